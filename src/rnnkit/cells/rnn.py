"""The Elman cell (Elman 1990, "Finding structure in time")."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells.base import FusableCell, State


class ElmanCell(FusableCell):
    r"""Elman (vanilla) recurrent cell, torch's ``nn.RNNCell``.

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}),
        \quad \phi \in \{\tanh, \mathrm{relu}\}

    Shapes: ``weight_ih`` (H, I), ``weight_hh`` (H, H), ``bias_*`` (H,); state ``(h,)``.
    Gradients through time are products of ``diag(phi') W_hh``: they shrink or grow
    geometrically with the distance, which is why this cell forgets (or explodes).
    """

    num_gates: ClassVar[int] = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias)

    @property
    def fused_mode(self) -> str:  # type: ignore[override]
        return "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"

    def recur(self, gi: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[Tensor, State]:
        (h,) = state
        pre = gi + F.linear(h, weight_hh, bias_hh)  # (B, H)
        h = torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)
        return h, (h,)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"
