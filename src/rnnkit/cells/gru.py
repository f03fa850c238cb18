"""The gated recurrent unit (Cho et al. 2014), in torch's (cuDNN's) variant."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells.base import FusableCell, State


class GRUCell(FusableCell):
    r"""GRU cell with torch's layout and gate order (r, z, n).

    .. math::
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})   && \text{reset gate}\\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})   && \text{update gate}\\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) && \text{candidate}\\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    The reset gate multiplies ``W_hn h + b_hn`` *after* the matrix product (torch and
    cuDNN; Cho et al. apply it before), which lets all three hidden projections be one
    matmul. Shapes: ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_*`` (3H,);
    state ``(h,)``.
    """

    num_gates: ClassVar[int] = 3
    fused_mode: ClassVar[str] = "GRU"

    def recur(self, gi: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[Tensor, State]:
        h, state, _ = self.recur_with_gates(gi, state, weight_hh, bias_hh)
        return h, state

    def recur_with_gates(self, gi: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None
                         ) -> tuple[Tensor, State, dict[str, Tensor]]:
        """:meth:`recur`, also returning the gates ``reset``, ``update`` and the ``candidate``."""
        (h,) = state
        gh = F.linear(h, weight_hh, bias_hh)  # (B, 3H)
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        h = (1 - z) * n + z * h  # equal to n + z * (h - n)
        return h, (h,), {"reset": r, "update": z, "candidate": n}
