"""``Recurrent``: a whole sequence through a stack of recurrent cells.

The layer owns the time loop, the stacking, the directions and the padding; the cells
own one step of math. Two backends run over one set of parameters:

* ``fused`` -- torch's own kernels (``torch._VF.lstm``/``gru``/``rnn_tanh``/``rnn_relu``,
  the functions ``torch.nn.LSTM`` itself calls: cuDNN on CUDA, oneDNN/ATen on CPU).
* ``reference`` -- the explicit cells in a Python loop: the ground truth, and the only
  path for custom cells.

They compute the same function and are tested against each other and against
``torch.nn.LSTM``/``GRU``/``RNN``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from typing import Union

import torch
from torch import _VF, Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.cells import FORGET_BIAS_CELLS, FusableCell, RecurrentCell, make_cell
from rnnkit.errors import ConfigError
from rnnkit.layers.dropout import drop_connect, locked_dropout

#: A cell given by name (``"lstm"``, ``"gru"``, ``"rnn_tanh"``, ``"rnn_relu"``) or a factory
#: ``(input_size, hidden_size, bias) -> RecurrentCell`` for custom cells.
CellSpec = Union[str, Callable[[int, int, bool], RecurrentCell]]
#: torch's convention: ``(h, c)`` for an LSTM, a bare ``h`` for one-tensor states.
TorchState = Union[Tensor, tuple[Tensor, ...]]

_FUSED_KERNELS = {"LSTM": _VF.lstm, "GRU": _VF.gru, "RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu}
_TORCH_MODULES = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN_TANH": nn.RNN, "RNN_RELU": nn.RNN}
_BACKENDS = ("auto", "fused", "reference")
#: the start of cuDNN's warning about weights outside the flat buffer (see ``_fused_call``)
_NOT_CONTIGUOUS = "RNN module weights are not part of single contiguous chunk of memory"
_NO_ONEDNN_PROJECTION = "LSTM with projections is not supported with oneDNN"


class Recurrent(nn.Module):
    r"""A stacked, optionally bidirectional recurrent layer over whole sequences.

    Layer ``l`` (of ``num_layers``) runs its cell over the outputs of layer ``l-1``; a
    bidirectional layer runs a second cell from the last step to the first and
    concatenates both outputs, so later layers see ``D * hidden_size`` features
    (``D = 2`` if bidirectional else 1).

    Args:
        cell: cell type name or factory (see :data:`CellSpec`).
        input_size, hidden_size, num_layers, bias, batch_first, bidirectional: as in
            ``torch.nn.LSTM``.
        dropout: dropout probability on the outputs of every layer but the last.
        locked_dropout: share the between-layer dropout mask across time steps
            (variational dropout).
        weight_drop: DropConnect probability on every ``weight_hh`` (AWD-LSTM).
        forget_bias: LSTM-family cells only: initial forget-gate bias (see ``LSTMCell``).
        proj_size: LSTM only: project each output to this size (``torch.nn.LSTM``'s
            ``proj_size``; outputs and ``h`` have P units, ``c`` keeps H).
        zoneout: zoneout probability (Krueger et al. 2017): in training each unit of the
            state keeps its previous value with this probability at every step; in
            evaluation the state is the expectation ``p * s_{t-1} + (1 - p) * s_t``. For
            cells whose state is ``(h,)`` or ``(h, c)``; runs the reference loop.
        backend: ``"auto"`` (fused wherever it applies), ``"fused"`` or ``"reference"``.

    Cells with a sequence form (``cell.scan``: minGRU, minLSTM, mLSTM) run each forward
    direction as one parallel scan over time; their reverse direction, and any cell under
    zoneout, step through time.

    Shapes (``batch_first=False``; swap T and B when True):
        input ``(T, B, input_size)``; ``lengths`` ``(B,)`` for right-padded batches;
        output ``(T, B, D * hidden_size)``, zero past each sequence's length;
        state ``(h, c)`` for an LSTM, else ``h``, each ``(num_layers * D, B, hidden_size)``,
        taken at each sequence's last valid step (for the reverse direction: its step 0).

    Parameters live in ``cells[layer * D + direction]`` with torch's names
    (``weight_ih`` ...); :meth:`torch_state_dict` renames them for ``torch.nn.LSTM``.
    """

    def __init__(
        self,
        cell: CellSpec,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        locked_dropout: bool = False,
        weight_drop: float = 0.0,
        forget_bias: float | None = None,
        zoneout: float = 0.0,
        proj_size: int = 0,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        for name, p in (("dropout", dropout), ("weight_drop", weight_drop), ("zoneout", zoneout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(_BACKENDS)}, got {backend!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.locked_dropout = locked_dropout
        self.weight_drop = float(weight_drop)
        self.zoneout = float(zoneout)
        self.proj_size = int(proj_size)
        self.num_directions = 2 if bidirectional else 1
        if proj_size and not (isinstance(cell, str) and cell.lower() == "lstm"):
            raise ConfigError("proj_size applies to the lstm cell only")
        #: units of each direction's output (and h): the projection's, else hidden_size
        self.output_size = self.proj_size or hidden_size

        self.cell_type = cell if isinstance(cell, str) else getattr(cell, "__name__", type(cell).__name__)
        cells: list[RecurrentCell] = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else self.output_size * self.num_directions
            for _ in range(self.num_directions):
                if isinstance(cell, str):
                    kwargs: dict = {} if forget_bias is None else {"forget_bias": forget_bias}
                    if proj_size:
                        kwargs["proj_size"] = proj_size
                    if forget_bias is not None and cell.lower() not in FORGET_BIAS_CELLS:
                        raise ConfigError(f"forget_bias applies to {', '.join(FORGET_BIAS_CELLS)} cells only")
                    cells.append(make_cell(cell, layer_in, hidden_size, bias, **kwargs))
                else:
                    cells.append(cell(layer_in, hidden_size, bias))
        # A ModuleList registers the cells; typed as the sequence of cells it is.
        self.cells: Sequence[RecurrentCell] = nn.ModuleList(cells)  # type: ignore[assignment]
        self.state_size: tuple[int, ...] = tuple(self.cells[0].state_size)

        if self.zoneout and len(self.state_size) > 2:
            raise ConfigError(f"zoneout applies to cells whose state is (h,) or (h, c); {self.cell_type} has "
                             f"{len(self.state_size)} state tensors")
        self.fused_mode = None if self.zoneout else self._common_fused_mode()
        if backend == "fused" and self.fused_mode is None:
            raise ValueError(f"backend='fused' needs a built-in cell; {self.cell_type} has no fused kernel")
        if weight_drop > 0 and not all(isinstance(c, FusableCell) for c in self.cells):
            raise ValueError("weight_drop needs cells with torch's weight layout (FusableCell)")
        self.requested_backend = backend
        self.backend = "reference" if backend == "reference" or self.fused_mode is None else "fused"

    # ------------------------------------------------------------------ description
    def _common_fused_mode(self) -> str | None:
        modes = {getattr(c, "fused_mode", None) if isinstance(c, FusableCell) else None for c in self.cells}
        return modes.pop() if len(modes) == 1 else None

    def explain(self) -> str:
        """One sentence: which backend runs, and why."""
        if self.backend == "fused":
            how = "one call for all layers"
            if self.locked_dropout and self.dropout > 0:
                how = "one call per layer in training, to apply locked dropout between layers"
            return (f"fused: torch's {self.fused_mode} kernel (cuDNN on CUDA, oneDNN/ATen on CPU), {how}; "
                    f"chosen because backend={self.requested_backend!r} and the cells are built-in")
        why = ("backend='reference' was requested" if self.requested_backend == "reference"
               else "zoneout needs the state at every step" if self.zoneout
               else f"{self.cell_type} cells have no fused kernel")
        if hasattr(self.cells[0], "scan") and not self.zoneout:
            return (f"scan: {type(self.cells[0]).__name__}'s parallel sequence form in each forward direction "
                    f"(a step loop in reverse), because {why}")
        return f"reference: explicit time loop over {type(self.cells[0]).__name__}, because {why}"

    def extra_repr(self) -> str:
        s = f"{self.cell_type}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("locked_dropout", False), ("weight_drop", 0.0),
                              ("zoneout", 0.0)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s + f", backend={self.backend!r}"

    def reset_parameters(self) -> None:
        for cell in self.cells:
            cell.reset_parameters()

    def _apply(self, fn, recurse=True):
        ret = super()._apply(fn, recurse)
        self.flatten_parameters()  # after .to()/.cuda(), as torch.nn.RNNBase does
        return ret

    def flatten_parameters(self) -> None:
        """On CUDA with cuDNN, lay all weights out in one contiguous buffer (the parameters
        become views into it), so cuDNN does not copy them at every call. A no-op on CPU,
        for custom cells, and when weights alias or differ in dtype (torch's own rules)."""
        if self.fused_mode is None:
            return
        flat = [w for cell in self.cells if isinstance(cell, FusableCell) for w in cell.flat_weights()]
        first = flat[0]
        if not all(w.is_cuda and w.dtype == first.dtype and torch.backends.cudnn.is_acceptable(w) for w in flat):
            return
        if len({w.data_ptr() for w in flat}) != len(flat) or not torch._use_cudnn_rnn_flatten_weight():
            return
        import torch.backends.cudnn.rnn as cudnn_rnn

        # tensors per layer and direction: weight_ih, weight_hh[, bias_ih, bias_hh][, weight_hr]
        per_layer = (4 if self.bias else 2) + (1 if self.proj_size else 0)
        with torch.cuda.device_of(first), torch.no_grad():
            torch._cudnn_rnn_flatten_weight(flat, per_layer, self.input_size,
                                            cudnn_rnn.get_cudnn_mode(self.fused_mode), self.hidden_size,
                                            self.proj_size, self.num_layers, self.batch_first, self.bidirectional)

    # ------------------------------------------------------------------ state helpers
    def initial_state(self, batch: int, device=None, dtype=None) -> TorchState:
        """All-zero state in torch's convention, ``(num_layers * D, batch, hidden)`` each."""
        ref = next(self.parameters())
        n = self.num_layers * self.num_directions
        parts = tuple(torch.zeros(n, batch, size, device=device or ref.device, dtype=dtype or ref.dtype)
                      for size in self.state_size)
        return self._to_torch_state(parts)

    def _to_torch_state(self, parts: tuple[Tensor, ...]) -> TorchState:
        return parts[0] if len(parts) == 1 else parts

    def _from_torch_state(self, state: TorchState | None, batch: int, like: Tensor) -> tuple[Tensor, ...]:
        if state is None:
            return tuple(self._to_tuple(self.initial_state(batch, like.device, like.dtype)))
        parts = self._to_tuple(state)
        n = self.num_layers * self.num_directions
        if len(parts) != len(self.state_size):
            raise ValueError(f"{self.cell_type} state has {len(self.state_size)} tensor(s), got {len(parts)}")
        for p, size in zip(parts, self.state_size):
            if tuple(p.shape) != (n, batch, size):
                raise ValueError(f"initial state must have shape {(n, batch, size)} "
                                 f"(num_layers * directions, batch, hidden), got {tuple(p.shape)}")
        # a state carried from a bfloat16 window (or checkpoint) into a float32 one, or back
        return tuple(p.to(like.dtype) if p.dtype != like.dtype and like.is_floating_point() else p for p in parts)

    @staticmethod
    def _to_tuple(state: TorchState) -> tuple[Tensor, ...]:
        return (state,) if isinstance(state, Tensor) else tuple(state)

    # ------------------------------------------------------------------ forward
    def forward(
        self, x: Tensor, state: TorchState | None = None, lengths: Tensor | Sequence[int] | None = None
    ) -> tuple[Tensor, TorchState]:
        """Run the whole sequence; see the class docstring for shapes."""
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            layout = "(batch, time, features)" if self.batch_first else "(time, batch, features)"
            raise ValueError(f"Recurrent expects input {layout} with features={self.input_size}, "
                             f"got shape {tuple(x.shape)}")
        batch_dim, time_dim = (0, 1) if self.batch_first else (1, 0)
        batch, steps = x.shape[batch_dim], x.shape[time_dim]
        hx = self._from_torch_state(state, batch, x)
        if lengths is not None:
            lengths = self._check_lengths(lengths, batch, steps)
        weights = self._weights_per_cell()
        if self.backend == "fused":
            out, hn = self._forward_fused(x, hx, lengths, weights)
        else:
            xt = x.transpose(0, 1) if self.batch_first else x  # (T, B, I)
            out, hn = self._forward_reference(xt, hx, lengths, weights)
            out = out.transpose(0, 1) if self.batch_first else out
        return out, self._to_torch_state(hn)

    def step(self, x_t: Tensor, state: TorchState | None = None) -> tuple[Tensor, TorchState]:
        """One time step through all layers: ``x_t`` (B, input_size) -> ``(h_t (B, H), state)``.

        The same computation as :meth:`forward` on a length-1 sequence, so a model driven
        step by step (generation, streaming inference) matches the full-sequence forward.
        """
        if self.bidirectional:
            raise ValueError("step() runs forward in time; a bidirectional layer needs the whole sequence")
        if x_t.dim() != 2:
            raise ValueError(f"step() expects input (batch, {self.input_size}), got {tuple(x_t.shape)}")
        time_dim = 1 if self.batch_first else 0
        out, state = self.forward(x_t.unsqueeze(time_dim), state)
        return out.squeeze(time_dim), state

    def _check_lengths(self, lengths, batch: int, steps: int) -> Tensor:
        lengths = torch.as_tensor(lengths, dtype=torch.int64).cpu()
        if lengths.shape != (batch,):
            raise ValueError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
        if batch and (lengths.min() < 1 or lengths.max() > steps):
            raise ValueError(f"every length must be between 1 and the padded length {steps}, "
                             f"got min {int(lengths.min())}, max {int(lengths.max())}")
        return lengths

    def _weights_per_cell(self) -> list[list[Tensor]] | None:
        """Each cell's ``[w_ih, w_hh, b_ih, b_hh]``, with DropConnect on ``w_hh`` in training."""
        fusable = [c for c in self.cells if isinstance(c, FusableCell)]
        if len(fusable) != len(self.cells):
            return None
        per_cell = []
        for cell in fusable:
            ws = cell.flat_weights()
            ws[1] = drop_connect(ws[1], self.weight_drop, self.training)
            per_cell.append(ws)
        return per_cell

    # ------------------------------------------------------------------ fused backend
    def _forward_fused(self, x, hx, lengths, weights):
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # CPU autocast reaches torch's LSTM kernel only for padded input, and its GRU
            # never: run every recurrence in the autocast dtype by casting its inputs, state
            # and weights here (the casts are differentiable, so the float32 master weights
            # get float32 gradients). Measured on this machine's AMX cores: LSTM 1.5-2.6x,
            # GRU 1.3-1.7x faster forward+backward than float32 (benchmarks/bench_precision.py).
            dtype = torch.get_autocast_dtype("cpu")
            with torch.autocast("cpu", enabled=False):
                low = [[w.to(dtype) for w in ws] for ws in weights]
                return self._forward_fused(x.to(dtype), tuple(h.to(dtype) for h in hx), lengths, low)
        packed = batch_sizes = None
        data = x
        if lengths is not None:
            packed = pack_padded_sequence(x, lengths, batch_first=self.batch_first, enforce_sorted=False)
            data, batch_sizes = packed.data, packed.batch_sizes
            hx = tuple(h.index_select(1, packed.sorted_indices) for h in hx)
        if not (self.locked_dropout and self.dropout > 0 and self.training):
            flat = [w for ws in weights for w in ws]
            data, hn = self._fused_call(data, batch_sizes, hx, flat, self.num_layers, self.dropout)
        else:
            # Locked dropout between layers: one kernel call per layer, with one mask per
            # sequence applied to the next layer's input.
            d, finals = self.num_directions, []
            for layer in range(self.num_layers):
                if layer > 0:
                    data = self._locked_dropout_fused(data, batch_sizes)
                flat = [w for ws in weights[layer * d:(layer + 1) * d] for w in ws]
                layer_hx = tuple(h[layer * d:(layer + 1) * d] for h in hx)
                data, hn_layer = self._fused_call(data, batch_sizes, layer_hx, flat, 1, 0.0)
                finals.append(hn_layer)
            hn = tuple(torch.cat(parts, 0) for parts in zip(*finals))
        if packed is not None:
            out_packed = PackedSequence(data, batch_sizes, packed.sorted_indices, packed.unsorted_indices)
            total = x.shape[1] if self.batch_first else x.shape[0]
            data, _ = pad_packed_sequence(out_packed, batch_first=self.batch_first, total_length=total)
            hn = tuple(h.index_select(1, packed.unsorted_indices) for h in hn)
        return data, hn

    def _fused_call(self, data, batch_sizes, hx, flat, num_layers, dropout):
        """Call torch's kernel on a padded tensor (``batch_sizes is None``) or packed data."""
        kernel = _FUSED_KERNELS[self.fused_mode]
        h_arg = hx if self.fused_mode == "LSTM" else hx[0]
        # DropConnect hands cuDNN a fresh weight_hh at every call, which cannot sit in the buffer
        # flatten_parameters made, so cuDNN copies the weights in (as AWD-LSTM's reference does):
        # expected, and not worth a warning at every run (other calls skip the filter's cost)
        dropping = bool(self.weight_drop) and self.training
        # on the CPU, torch tells once per process that oneDNN has no projected LSTM and its own
        # kernel runs instead: nothing a user can act on, and it reads like a fault
        projecting_on_cpu = bool(self.proj_size) and data.device.type == "cpu"
        with warnings.catch_warnings() if dropping or projecting_on_cpu else contextlib.nullcontext():
            if dropping:
                warnings.filterwarnings("ignore", message=_NOT_CONTIGUOUS)
            if projecting_on_cpu:
                warnings.filterwarnings("ignore", message=_NO_ONEDNN_PROJECTION)
            if batch_sizes is not None:
                result = kernel(data, batch_sizes, h_arg, flat, self.bias, num_layers, dropout,
                                self.training, self.bidirectional)
            else:
                result = kernel(data, h_arg, flat, self.bias, num_layers, dropout, self.training,
                                self.bidirectional, self.batch_first)
        return result[0], tuple(result[1:])

    def _locked_dropout_fused(self, data: Tensor, batch_sizes: Tensor | None) -> Tensor:
        if batch_sizes is None:
            return locked_dropout(data, self.dropout, True, time_dim=1 if self.batch_first else 0)
        # Packed rows are time-major with the sorted batch shrinking: row r of step t is
        # sorted sequence r, so the per-sequence mask is indexed by position within the step.
        b = int(batch_sizes[0])
        mask = data.new_empty(b, data.shape[-1]).bernoulli_(1 - self.dropout) / (1 - self.dropout)
        rows = torch.cat([torch.arange(int(n)) for n in batch_sizes]).to(data.device)
        return data * mask[rows]

    # ------------------------------------------------------------------ reference backend
    def _forward_reference(self, x, hx, lengths, weights):
        steps = x.shape[0]
        valid = None
        if lengths is not None:
            valid = (torch.arange(steps).unsqueeze(1) < lengths.unsqueeze(0)).to(x.device).unsqueeze(-1)  # (T, B, 1)
        d = self.num_directions
        layer_input, finals = x, [[] for _ in hx]
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                layer_input = (locked_dropout(layer_input, self.dropout, True, time_dim=0) if self.locked_dropout
                               else nn.functional.dropout(layer_input, self.dropout, True))
            outs = []
            for direction in range(d):
                k = layer * d + direction
                state = tuple(h[k] for h in hx)
                out, state = self._run_direction(k, layer_input, state, valid, direction == 1,
                                                 None if weights is None else weights[k])
                outs.append(out)
                for i, s in enumerate(state):
                    finals[i].append(s)
            layer_input = outs[0] if d == 1 else torch.cat(outs, dim=-1)  # (T, B, D*H)
        return layer_input, tuple(torch.stack(f, 0) for f in finals)

    def _run_direction(self, k, inp, state, valid, reverse, weights):
        cell = self.cells[k]
        steps = inp.shape[0]
        scan = getattr(cell, "scan", None)
        # the whole sequence at once; not while tracing for export, where the scan's Python
        # chunking would be frozen into the graph (an exported graph takes one step per call)
        if scan is not None and not reverse and not self.zoneout and not torch.jit.is_tracing():
            return scan(inp, state, valid)
        if weights is not None:
            w_ih, w_hh = weights[0], weights[1]
            b_ih, b_hh = (weights[2], weights[3]) if self.bias else (None, None)
            gi = nn.functional.linear(inp, w_ih, b_ih)  # (T, B, G*H): all input projections at once
        outputs: list[Tensor] = [inp.new_empty(0)] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            if weights is not None:
                h, new_state = cell.recur(gi[t], state, w_hh, b_hh)
            else:
                h, new_state = cell(inp[t], state)
            if self.zoneout:
                new_state = self._zone_out(state, tuple(new_state))
                h = new_state[0]
            if valid is not None:
                # Past a sequence's end the state is frozen and the output is zero; in the
                # reverse direction this makes each sequence start at its own last step.
                m = valid[t]  # (B, 1)
                new_state = tuple(torch.where(m, n, s) for n, s in zip(new_state, state))
                h = h.masked_fill(~m, 0.0)
            state = tuple(new_state)
            outputs[t] = h
        return torch.stack(outputs, 0), state

    def _zone_out(self, old: tuple[Tensor, ...], new: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """Keep each unit's previous value with probability ``zoneout`` (training), or mix by
        it (evaluation)."""
        p = self.zoneout
        if not self.training:
            return tuple(p * o + (1 - p) * n for o, n in zip(old, new))
        return tuple(torch.where(torch.rand_like(n) < p, o, n) for o, n in zip(old, new))

    # ------------------------------------------------------------------ torch interop
    def _torch_names(self) -> list[tuple[int, str]]:
        names = []
        for k in range(len(self.cells)):
            layer, direction = divmod(k, self.num_directions)
            names.append((k, f"_l{layer}" + ("_reverse" if direction else "")))
        return names

    def torch_state_dict(self) -> dict[str, Tensor]:
        """Parameters under ``torch.nn.LSTM``/``GRU``/``RNN`` names (``weight_ih_l0_reverse``...)."""
        sd: dict[str, Tensor] = {}
        for k, suffix in self._torch_names():
            for name, p in self.cells[k].named_parameters(recurse=False):
                sd[name + suffix] = p
        return sd

    @torch.no_grad()
    def load_torch_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        """Copy parameters from a ``torch.nn.LSTM``/``GRU``/``RNN`` ``state_dict`` of the same shape."""
        ours = self.torch_state_dict()
        missing = sorted(set(ours) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(ours))
        if missing or unexpected:
            raise ValueError(f"torch state_dict does not match this layer: missing {missing}, unexpected {unexpected}")
        for name, p in ours.items():
            if p.shape != state_dict[name].shape:
                raise ValueError(f"{name}: expected shape {tuple(p.shape)}, got {tuple(state_dict[name].shape)}")
            p.copy_(state_dict[name])

    def to_torch(self) -> nn.RNNBase:
        """An equivalent ``torch.nn.LSTM``/``GRU``/``RNN`` holding a copy of these weights."""
        if self.fused_mode is None:
            raise ValueError(f"{self.cell_type} cells have no torch.nn counterpart")
        cls = _TORCH_MODULES[self.fused_mode]
        kwargs: dict = {"nonlinearity": "relu" if self.fused_mode == "RNN_RELU" else "tanh"} if cls is nn.RNN else {}
        if self.proj_size:
            kwargs["proj_size"] = self.proj_size
        module = cls(self.input_size, self.hidden_size, num_layers=self.num_layers, bias=self.bias,
                     batch_first=self.batch_first, dropout=self.dropout, bidirectional=self.bidirectional,
                     **kwargs)
        ref = self.cells[0].weight_ih
        module = module.to(device=ref.device, dtype=ref.dtype)
        module.load_state_dict({k: v.detach() for k, v in self.torch_state_dict().items()})
        return module

    @classmethod
    def from_torch(cls, module: nn.RNNBase, **kwargs) -> Recurrent:
        """A ``Recurrent`` holding a copy of a ``torch.nn.LSTM``/``GRU``/``RNN``'s weights."""
        cell = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}[module.mode]
        if getattr(module, "proj_size", 0):
            kwargs["proj_size"] = module.proj_size
        layer = cls(cell, module.input_size, module.hidden_size, module.num_layers, module.bias,
                    module.batch_first, module.dropout, module.bidirectional, **kwargs)
        ref = next(module.parameters())
        layer = layer.to(device=ref.device, dtype=ref.dtype)
        layer.load_torch_state_dict(module.state_dict())
        return layer


__all__ = ["Recurrent", "CellSpec", "TorchState"]
