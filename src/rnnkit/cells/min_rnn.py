"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): gates that read only
the input, so a whole sequence is one parallel scan, and a step costs O(1) as any RNN's.

minGRU::

    z_t  = sigmoid(W_z x_t + b_z)                 update gate
    h~_t = g(W_h x_t + b_h)                       candidate, g(x) = x + 0.5 (x >= 0), sigmoid(x) (x < 0)
    h_t  = (1 - z_t) * h_{t-1} + z_t * h~_t

minLSTM::

    f_t = sigmoid(W_f x_t + b_f),  i_t = sigmoid(W_i x_t + b_i),  h~_t = g(W_h x_t + b_h)
    f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)          (time-independent scale)
    h_t  = f'_t * h_{t-1} + i'_t * h~_t

Both are ``h_t = a_t h_{t-1} + b_t`` with ``a_t`` in (0, 1) and ``b_t > 0`` (``g`` keeps
the state positive), run over a sequence by :func:`~rnnkit.cells.scan.linear_scan` and one step
at a time by :meth:`forward`. Shapes: ``x_t`` (B, I) -> ``h_t`` (B, H); state ``(h,)``.
Nonlinearity across time comes from stacking layers (``num_layers``), as in the paper.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.base import RecurrentCell, State, check_sizes, check_step_input
from rnnkit.cells.scan import g, linear_scan


class _ScanCell(RecurrentCell):
    """A cell whose gates read only the input: ``h_t = a_t h_{t-1} + b_t``."""

    #: gate blocks of the input projection
    blocks: ClassVar[int]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.linear = nn.Linear(input_size, self.blocks * hidden_size, bias=bias)

    @property
    def state_size(self) -> tuple[int, ...]:
        return (self.hidden_size,)

    def coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        """``(a, b)`` from the input projection (..., blocks * H)."""
        raise NotImplementedError

    def forward(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        check_step_input(self, x_t)
        h = state[0] if state is not None else x_t.new_zeros(x_t.shape[0], self.hidden_size)
        a, b = self.coefficients(self.linear(x_t))
        h = torch.addcmul(b, a, h)
        return h, (h,)

    def scan(self, x: Tensor, state: State | None, valid: Tensor | None) -> tuple[Tensor, State]:
        """A whole sequence at once: ``x`` (T, B, I), ``valid`` (T, B, 1) or None -> outputs
        (T, B, H), zero past each length, and the state at each sequence's last step."""
        a, b = self.coefficients(self.linear(x))
        if valid is not None:  # past a sequence's end: a = 1, b = 0, the state stays
            a = torch.where(valid, a, torch.ones_like(a))
            b = torch.where(valid, b, torch.zeros_like(b))
        h = linear_scan(a, b, None if state is None else state[0])
        out = h if valid is None else h.masked_fill(~valid, 0.0)
        return out, (h[-1],)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class MinGRUCell(_ScanCell):
    """minGRU; see the module docstring."""

    blocks = 2

    def coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        k, cand = proj.chunk(2, dim=-1)
        # 1 - z = sigmoid(-k): no cancellation when z is near 1
        return torch.sigmoid(-k), torch.sigmoid(k) * g(cand)


class MinLSTMCell(_ScanCell):
    """minLSTM; see the module docstring."""

    blocks = 3

    def coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        kf, ki, cand = proj.chunk(3, dim=-1)
        # f' = f / (f + i) = sigmoid(log f - log i), log sigmoid(k) = -softplus(-k): in logs,
        # so that two gates that both underflow still give a ratio (and never 0 / 0)
        diff = F.softplus(-ki) - F.softplus(-kf)  # log f - log i
        return torch.sigmoid(diff), torch.sigmoid(-diff) * g(cand)


__all__ = ["MinGRUCell", "MinLSTMCell"]
