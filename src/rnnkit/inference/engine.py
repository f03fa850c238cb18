"""``StepEngine``: one time step of a recurrent stack in NumPy, for CPU inference.

Training wants big batches and long sequences; streaming inference wants the opposite:
one step, one (or a few) sequences, as little time as the arithmetic allows. There
torch's per-call overhead dominates (``nn.LSTM`` with T=1 picks the oneDNN RNN primitive on
CPU, 3-11x slower than the plain math at batch 1), so inference steps run here instead:

* no autograd and no dispatcher, just NumPy ufuncs on preallocated float32 buffers;
* **one fused matrix product per layer**: the layer's input, its previous output and a
  constant 1 sit side by side in one buffer ``xh = [x_t, h_{t-1}, 1]`` (B, I + H + 1), and
  every gate's input weights, recurrent weights and biases are one matrix ``W`` (I + H + 1,
  G * H), so ``xh @ W`` gives all pre-activations (BLAS gemv at batch 1, gemm above);
* sigmoid through tanh: ``sigmoid(z) = (tanh(z / 2) + 1) / 2``, with the 1/2 folded into the
  sigmoid gates' columns of ``W`` once, so one ``tanh`` call serves every gate of an LSTM;
* a layer writes its new ``h_t`` straight into its own ``xh`` (the next step's input) and
  copies it into the next layer's ``xh``.

Measured on 2 shared cores (``benchmarks/bench_streaming.py``): about 5 us per LSTM step
at H=64, batch 1, against about 25 us for ``nn.LSTMCell`` and 95 us for ``nn.LSTM`` with
T=1; at H=1024 the step is the float32 gemv through ``W``, i.e. the memory bandwidth limit.
A torch version of the same buffer-reusing step costs twice the NumPy one (1-2 us per
torch call against 0.5 us per ufunc), hence NumPy.

Cells: LSTM (gate order i, f, g, o as torch) with or without a projection (LSTMP, torch's
``proj_size``: ``h = (o * tanh(c)) W_hr^T``, P units, the AWD-LSTM preset's), GRU (torch's
variant, reset gate after ``W_hn h + b_hn``: that term gets its own columns of ``W``, beside
``W_in x + b_in``), and Elman with tanh or ReLU. Results equal the torch layer's within
float32 rounding (1e-6).

State (per stream batch, :class:`EngineState`): each layer's ``xh`` buffer, whose middle
columns *are* ``h`` (H, or P with a projection), and for an LSTM the memory cell ``c`` (B, H).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnkit.cells import FusableCell
from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent

#: Engines by name; "numpy" is this module, "torch" runs the model's own ``step`` (any device).
ENGINES = ("auto", "numpy", "torch")


@dataclass
class EngineState:
    """Per-batch working state: ``xh[l]`` (B, I_l + H + 1) holds layer l's next input,
    its last output ``h`` and a constant 1; ``c[l]`` (B, H) is an LSTM's memory cell."""

    xh: list[np.ndarray]
    c: list[np.ndarray]
    plan: list | None = None  # the engine's per-layer views, built at the first step

    @property
    def batch(self) -> int:
        return self.xh[0].shape[0]

    def copy(self) -> EngineState:
        return EngineState([a.copy() for a in self.xh], [a.copy() for a in self.c])


class _Layer:
    """One layer's fused weights and its views into an :class:`EngineState`. ``hidden_size``
    is the layer's output (P with a projection ``w_hr`` (P, H)); ``cell_size`` the gates' H."""

    def __init__(self, mode: str, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
                 b_hh: np.ndarray | None, w_hr: np.ndarray | None = None) -> None:
        self.mode = mode
        g_rows, self.input_size = w_ih.shape
        self.hidden_size = w_hh.shape[1]  # the output (and recurrent input) size
        self.cell_size = h = g_rows // 4 if mode == "LSTM" else self.hidden_size
        # (H, P): the projection as a right factor, None without one
        self.w_hr_t = None if w_hr is None else np.ascontiguousarray(w_hr.T)
        i, out = self.input_size, self.hidden_size
        b_ih = np.zeros(g_rows, np.float32) if b_ih is None else b_ih
        b_hh = np.zeros(g_rows, np.float32) if b_hh is None else b_hh
        k = i + out + 1
        if mode == "GRU":
            # columns: r, z (sigmoid, scaled by 1/2) | W_in x + b_in | W_hn h + b_hn
            w = np.zeros((k, 4 * h), np.float32)
            w[:i, : 2 * h] = w_ih[: 2 * h].T * 0.5
            w[i : i + h, : 2 * h] = w_hh[: 2 * h].T * 0.5
            w[k - 1, : 2 * h] = (b_ih[: 2 * h] + b_hh[: 2 * h]) * 0.5
            w[:i, 2 * h : 3 * h] = w_ih[2 * h :].T
            w[k - 1, 2 * h : 3 * h] = b_ih[2 * h :]
            w[i : i + h, 3 * h :] = w_hh[2 * h :].T
            w[k - 1, 3 * h :] = b_hh[2 * h :]
        else:
            w = np.empty((k, g_rows), np.float32)
            w[:i] = w_ih.T
            w[i : i + out] = w_hh.T
            w[k - 1] = b_ih + b_hh
            if mode == "LSTM":
                # torch's order i, f, g, o -> i, f, o, g: the three sigmoid gates side by side
                order = np.r_[0 : 2 * h, 3 * h : 4 * h, 2 * h : 3 * h]
                w = w[:, order]
                w[:, : 3 * h] *= 0.5
        self.w = np.ascontiguousarray(w)  # (I + H + 1, G * H)

    def new_buffers(self, batch: int) -> tuple[np.ndarray, np.ndarray | None]:
        xh = np.zeros((batch, self.input_size + self.hidden_size + 1), np.float32)
        xh[:, -1] = 1.0
        c = np.zeros((batch, self.cell_size), np.float32) if self.mode == "LSTM" else None
        return xh, c

    def h(self, xh: np.ndarray) -> np.ndarray:
        return xh[:, self.input_size : self.input_size + self.hidden_size]


class _Scratch:
    """Gate and temporary buffers for one batch size, with the views the step needs."""

    def __init__(self, layer: _Layer, batch: int) -> None:
        h = layer.cell_size
        self.gates = np.empty((batch, layer.w.shape[1]), np.float32)
        self.tmp = np.empty((batch, h), np.float32)
        # a projection's product (dot's out must be contiguous; h is a view into xh)
        self.proj = np.empty((batch, layer.hidden_size), np.float32) if layer.w_hr_t is not None else None
        g = self.gates
        if layer.mode == "LSTM":
            self.sig, self.i, self.f = g[:, : 3 * h], g[:, :h], g[:, h : 2 * h]
            self.o, self.g = g[:, 2 * h : 3 * h], g[:, 3 * h :]
        elif layer.mode == "GRU":
            self.sig, self.r, self.z = g[:, : 2 * h], g[:, :h], g[:, h : 2 * h]
            self.nx, self.nh = g[:, 2 * h : 3 * h], g[:, 3 * h :]


class StepEngine:
    """A unidirectional :class:`~rnnkit.layers.Recurrent` stack as NumPy arrays.

    ``step(state, x)`` advances a batch of streams by one step: ``x`` (B, input_size) is
    written into layer 0's buffer by the caller through :meth:`input_view` (so an
    embedding lookup can land there without a copy) or passed in; the top layer's output
    ``h_t`` (B, H) is returned as a view that the next step overwrites.
    """

    def __init__(self, rnn: Recurrent) -> None:
        if rnn.bidirectional:
            raise ConfigError("streaming runs forward in time; a bidirectional layer needs the whole sequence")
        if rnn.fused_mode is None or not all(isinstance(c, FusableCell) for c in rnn.cells):
            raise ConfigError(f"the NumPy step engine runs built-in cells only, not {rnn.cell_type}")
        self.mode = rnn.fused_mode
        self.num_layers = rnn.num_layers
        self.input_size = rnn.input_size
        self.hidden_size = rnn.output_size  # h's size: the projection's with one
        self.layers: list[_Layer] = []
        with torch.no_grad():
            for cell in rnn.cells:
                assert isinstance(cell, FusableCell)
                ws = [w.detach().to("cpu", torch.float32).numpy() for w in cell.flat_weights()]
                b_ih, b_hh = (ws[2], ws[3]) if rnn.bias else (None, None)
                w_hr = ws[-1] if rnn.proj_size else None
                self.layers.append(_Layer(self.mode, ws[0], ws[1], b_ih, b_hh, w_hr))
        self._scratch: dict[int, list[_Scratch]] = {}
        self.state_names = ("h", "c") if self.mode == "LSTM" else ("h",)
        #: each state tensor's last size: ``c`` keeps H where a projection makes ``h`` P
        self.state_sizes = {"h": rnn.output_size, **({"c": rnn.hidden_size} if self.mode == "LSTM" else {})}

    def weight_arrays(self) -> list[np.ndarray]:
        """The weights the engine steps with (what a model fingerprint reads)."""
        return [w for layer in self.layers for w in (layer.w, layer.w_hr_t) if w is not None]

    def explain(self) -> str:
        return (f"numpy step engine: {self.num_layers} x {self.mode} (H={self.hidden_size}), one fused "
                f"[x, h, 1] @ W product per layer, float32, no autograd, buffers reused every step")

    # ------------------------------------------------------------------ state
    def new_state(self, batch: int) -> EngineState:
        """All-zero state for ``batch`` streams."""
        xh, c = [], []
        for layer in self.layers:
            a, m = layer.new_buffers(batch)
            xh.append(a)
            if m is not None:
                c.append(m)
        return EngineState(xh, c)

    def input_view(self, state: EngineState) -> np.ndarray:
        """Where the next step's input goes: (B, input_size), a view into layer 0's buffer."""
        return state.xh[0][:, : self.input_size]

    def get(self, state: EngineState) -> dict[str, np.ndarray]:
        """Torch's convention: ``h`` (and ``c``) of shape (num_layers, B, H), copied."""
        out = {"h": np.stack([layer.h(a) for layer, a in zip(self.layers, state.xh)])}
        if self.mode == "LSTM":
            out["c"] = np.stack(state.c)
        return out

    def set(self, state: EngineState, values: dict[str, np.ndarray]) -> None:
        """Write ``h`` (and ``c``) of shape (num_layers, B, H) into ``state`` (checked by the caller)."""
        for layer, a, h in zip(self.layers, state.xh, values["h"]):
            layer.h(a)[...] = h
        for c, v in zip(state.c, values.get("c", ())):
            c[...] = v

    def top(self, state: EngineState) -> np.ndarray:
        """The last layer's latest output (B, H), a view."""
        return self.layers[-1].h(state.xh[-1])

    # ------------------------------------------------------------------ one step
    def _scratch_for(self, batch: int) -> list[_Scratch]:
        scratch = self._scratch.get(batch)
        if scratch is None:
            scratch = self._scratch[batch] = [_Scratch(layer, batch) for layer in self.layers]
        return scratch

    def _plan(self, state: EngineState) -> list[tuple]:
        """Per layer, the arrays one step touches (views into ``state`` and the scratch
        buffers), built once per state so that a step is only ufunc calls."""
        plan = state.plan
        if plan is None:
            scratch = self._scratch_for(state.batch)
            plan = []
            c_iter = iter(state.c)
            for k, (layer, s) in enumerate(zip(self.layers, scratch)):
                nxt = state.xh[k + 1][:, : self.layers[k + 1].input_size] if k + 1 < len(self.layers) else None
                plan.append((state.xh[k], layer.w, layer.h(state.xh[k]), nxt, s,
                             next(c_iter) if self.mode == "LSTM" else None, layer.w_hr_t))
            state.plan = plan
        return plan

    def step(self, state: EngineState, x: np.ndarray | None = None) -> np.ndarray:
        """Advance every stream one step; ``x`` (B, input_size), or ``None`` when the caller
        already wrote the input into :meth:`input_view`. Returns the top ``h_t`` (B, H)."""
        plan = self._plan(state)
        if x is not None:
            state.xh[0][:, : self.input_size] = x
        mul, add, tanh, dot = np.multiply, np.add, np.tanh, np.dot
        mode = self.mode
        h = plan[-1][2]
        for xh, w, h, nxt, s, c, w_hr_t in plan:
            dot(xh, w, out=s.gates)
            if mode == "LSTM":
                tanh(s.gates, out=s.gates)  # sigmoid gates pre-scaled by 1/2, candidate as is
                mul(s.sig, 0.5, out=s.sig)
                add(s.sig, 0.5, out=s.sig)
                mul(c, s.f, out=c)  # c = f * c + i * g
                mul(s.i, s.g, out=s.tmp)
                add(c, s.tmp, out=c)
                tanh(c, out=s.tmp)
                if w_hr_t is None:
                    mul(s.o, s.tmp, out=h)  # h = o * tanh(c)
                else:
                    mul(s.o, s.tmp, out=s.tmp)
                    dot(s.tmp, w_hr_t, out=s.proj)  # h = (o * tanh(c)) W_hr^T
                    h[...] = s.proj
            elif mode == "GRU":
                tanh(s.sig, out=s.sig)
                mul(s.sig, 0.5, out=s.sig)
                add(s.sig, 0.5, out=s.sig)
                mul(s.r, s.nh, out=s.nh)  # n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
                add(s.nx, s.nh, out=s.nx)
                tanh(s.nx, out=s.nx)
                np.subtract(h, s.nx, out=s.tmp)  # h = n + z * (h - n)
                mul(s.z, s.tmp, out=s.tmp)
                add(s.nx, s.tmp, out=h)
            elif mode == "RNN_TANH":
                tanh(s.gates, out=h)
            else:
                np.maximum(s.gates, 0.0, out=h)
            if nxt is not None:
                nxt[...] = h  # the next layer's input
        return h


def resolve_engine(engine: str, device: torch.device | str = "cpu") -> str:
    """``auto`` -> ``numpy`` on the CPU (any batch: the fused gemm wins there too), ``torch``
    elsewhere (a GPU keeps the model's own kernels)."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine != "auto":
        return engine
    return "numpy" if torch.device(device).type == "cpu" else "torch"


__all__ = ["StepEngine", "EngineState", "ENGINES", "resolve_engine"]
