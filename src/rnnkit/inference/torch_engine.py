"""``TorchStepEngine``: the step engine's contract for any cell, through the layer's own ``step``.

The NumPy :class:`~rnnkit.inference.engine.StepEngine` knows the built-in cells' equations
(LSTM with or without a projection, GRU, Elman). Every other cell (peephole and
layer-normalised LSTM, minGRU, minLSTM, sLSTM, mLSTM, a user's cell) streams through this
engine: the same methods and state layout
(each state tensor as a float32 array (num_layers, B, size), named after the cell's state),
one call of ``Recurrent.step`` under ``torch.no_grad`` per step. It is slower per step than
the NumPy engine (torch's per-call cost) but exact: the layer's own code runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent

#: the names a cell's state tensors go by in a stream's state (by count, for unnamed cells)
_NAMES = {"mlstm": ("C", "n", "m"), "slstm": ("h", "c", "n", "m")}


@dataclass
class TorchEngineState:
    """Per-batch state: ``parts[i]`` (num_layers, B, size_i), the input buffer ``x`` (B, I)
    and the top layer's latest output ``out`` (B, H)."""

    parts: list[np.ndarray]
    x: np.ndarray
    out: np.ndarray
    plan: list | None = field(default=None)

    @property
    def batch(self) -> int:
        return self.x.shape[0]

    def copy(self) -> TorchEngineState:
        return TorchEngineState([p.copy() for p in self.parts], self.x.copy(), self.out.copy())


class TorchStepEngine:
    """A unidirectional :class:`Recurrent` stack stepped by torch (see the module docstring)."""

    def __init__(self, rnn: Recurrent) -> None:
        if rnn.bidirectional:
            raise ConfigError("streaming runs forward in time; a bidirectional layer needs the whole sequence")
        self.rnn = rnn
        self.num_layers, self.input_size, self.hidden_size = rnn.num_layers, rnn.input_size, rnn.output_size
        sizes = tuple(rnn.state_size)
        names = _NAMES.get(rnn.cell_type) or (("h", "c") if len(sizes) == 2 else ("h",) if len(sizes) == 1
                                                else tuple(f"s{i}" for i in range(len(sizes))))
        self.state_names: tuple[str, ...] = names
        self.state_sizes: dict[str, int] = dict(zip(names, sizes))

    def weight_arrays(self) -> list[np.ndarray]:
        """The layer's parameters as float32 arrays (what a model fingerprint reads)."""
        return [p.detach().to("cpu", torch.float32).numpy() for p in self.rnn.parameters()]

    def explain(self) -> str:
        return (f"torch step engine: {self.num_layers} x {type(self.rnn.cells[0]).__name__} "
                f"(H={self.hidden_size}), the layer's own step under no_grad, float32")

    def new_state(self, batch: int) -> TorchEngineState:
        parts = [np.zeros((self.num_layers, batch, size), np.float32) for size in self.state_sizes.values()]
        return TorchEngineState(parts, np.zeros((batch, self.input_size), np.float32),
                                np.zeros((batch, self.hidden_size), np.float32))

    def input_view(self, state: TorchEngineState) -> np.ndarray:
        return state.x

    def get(self, state: TorchEngineState) -> dict[str, np.ndarray]:
        return {name: p.copy() for name, p in zip(self.state_names, state.parts)}

    def set(self, state: TorchEngineState, values: dict[str, np.ndarray]) -> None:
        for name, p in zip(self.state_names, state.parts):
            p[...] = values[name]

    def top(self, state: TorchEngineState) -> np.ndarray:
        return state.out

    @torch.no_grad()
    def step(self, state: TorchEngineState, x: np.ndarray | None = None) -> np.ndarray:
        if x is not None:
            state.x[...] = x
        ref = next(self.rnn.parameters())
        parts = tuple(torch.from_numpy(p).to(ref.device, ref.dtype) for p in state.parts)
        h, new = self.rnn.step(torch.from_numpy(state.x).to(ref.device, ref.dtype),
                               parts if len(parts) > 1 else parts[0])
        new_parts = new if isinstance(new, tuple) else (new,)
        for p, v in zip(state.parts, new_parts):
            p[...] = v.to("cpu", torch.float32).numpy()
        state.out[...] = h.to("cpu", torch.float32).numpy()
        return state.out


def make_engine(rnn: Recurrent):
    """The NumPy engine for built-in cells, the torch one for every other cell."""
    from rnnkit.cells import FusableCell
    from rnnkit.inference.engine import StepEngine

    if rnn.fused_mode is not None and all(isinstance(c, FusableCell) for c in rnn.cells):
        return StepEngine(rnn)
    return TorchStepEngine(rnn)


__all__ = ["TorchStepEngine", "TorchEngineState", "make_engine"]
