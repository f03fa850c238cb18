"""Masked pooling over time: sequence outputs (B, T, F) -> one vector per sequence (B, F).

Padding never leaks in: positions at or past each sequence's length are excluded.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

POOLINGS = ("last", "mean", "max", "attention")


def valid_mask(lengths: Tensor, steps: int) -> Tensor:
    """``(B, T)`` boolean, True where ``t < lengths[b]``."""
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)


def masked_max(x: Tensor, mask: Tensor) -> Tensor:
    return x.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values


class AttentionPooling(nn.Module):
    r"""Additive self-attention pooling (Yang et al. 2016, "Hierarchical Attention Networks").

    .. math:: e_t = v^\top \tanh(W x_t + b), \quad \alpha = \mathrm{softmax}_{t < L}(e), \quad
              y = \textstyle\sum_t \alpha_t x_t
    """

    def __init__(self, features: int, attention_size: int | None = None) -> None:
        super().__init__()
        size = attention_size or features
        self.proj = nn.Linear(features, size)
        self.score = nn.Linear(size, 1, bias=False)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` (B, T, F), ``mask`` (B, T) -> pooled (B, F) and weights (B, T)."""
        e = self.score(torch.tanh(self.proj(x))).squeeze(-1)  # (B, T)
        alpha = e.masked_fill(~mask, float("-inf")).softmax(dim=1)
        return torch.bmm(alpha.unsqueeze(1), x).squeeze(1), alpha
