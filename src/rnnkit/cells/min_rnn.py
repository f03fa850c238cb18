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
the state positive), run over a sequence by :func:`~rnnkit.cells.scan.log_scan` and one step
at a time by :meth:`forward`. Shapes: ``x_t`` (B, I) -> ``h_t`` (B, H); state ``(h,)``.
Nonlinearity across time comes from stacking layers (``num_layers``), as in the paper.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.base import RecurrentCell, State, check_sizes, check_step_input
from rnnkit.cells.scan import log_g, log_scan


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

    def log_coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        """``(log a, log b)`` from the input projection (..., blocks * H)."""
        raise NotImplementedError

    def forward(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        check_step_input(self, x_t)
        h = state[0] if state is not None else x_t.new_zeros(x_t.shape[0], self.hidden_size)
        log_a, log_b = self.log_coefficients(self.linear(x_t))
        h = torch.exp(log_a) * h + torch.exp(log_b)
        return h, (h,)

    def scan(self, x: Tensor, state: State | None, valid: Tensor | None) -> tuple[Tensor, State]:
        """A whole sequence at once: ``x`` (T, B, I), ``valid`` (T, B, 1) or None -> outputs
        (T, B, H), zero past each length, and the state at each sequence's last step."""
        log_a, log_b = self.log_coefficients(self.linear(x))
        if valid is not None:  # past a sequence's end: a = 1, b = 0, the state stays
            log_a = torch.where(valid, log_a, torch.zeros_like(log_a))
            log_b = torch.where(valid, log_b, torch.full_like(log_b, -torch.inf))
        h = log_scan(log_a, log_b, None if state is None else state[0])
        out = h if valid is None else h.masked_fill(~valid, 0.0)
        return out, (h[-1],)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class MinGRUCell(_ScanCell):
    """minGRU; see the module docstring."""

    blocks = 2

    def log_coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        k, cand = proj.chunk(2, dim=-1)
        # log(1 - z) = -softplus(k), log z = -softplus(-k)
        return -F.softplus(k), -F.softplus(-k) + log_g(cand)


class MinLSTMCell(_ScanCell):
    """minLSTM; see the module docstring."""

    blocks = 3

    def log_coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        kf, ki, cand = proj.chunk(3, dim=-1)
        # log f' = log f - log(f + i) = -softplus(log i - log f), with log sigmoid(k) = -softplus(-k)
        diff = F.softplus(-kf) - F.softplus(-ki)
        return -F.softplus(diff), -F.softplus(-diff) + log_g(cand)


__all__ = ["MinGRUCell", "MinLSTMCell"]
