"""Dropout variants for recurrent networks (Gal & Ghahramani 2016; Merity et al. 2018, AWD-LSTM).

* Locked (variational) dropout: one mask per sequence, shared by every time step, so a
  unit is either dropped for the whole sequence or kept for it.
* Weight drop (DropConnect on ``W_hh``, Wan et al. 2013): drop recurrent *weights* once
  per forward pass; the recurrence itself is untouched, so torch's fused kernels still
  run (the AWD-LSTM recipe).
* Embedding dropout: drop whole rows (words) of an embedding matrix.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


def locked_dropout(x: Tensor, p: float, training: bool = True, time_dim: int = 0) -> Tensor:
    """Dropout with one mask shared over ``time_dim``: ``x * m / (1 - p)``, ``m ~ Bernoulli(1 - p)``.

    ``x`` is ``(T, B, F)`` for ``time_dim=0`` or ``(B, T, F)`` for ``time_dim=1``.
    """
    if not training or p == 0.0:
        return x
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    shape = list(x.shape)
    shape[time_dim] = 1
    mask = x.new_empty(shape).bernoulli_(1.0 - p) / (1.0 - p)
    return x * mask


class LockedDropout(nn.Module):
    """Module form of :func:`locked_dropout`."""

    def __init__(self, p: float = 0.5, time_dim: int = 0) -> None:
        super().__init__()
        self.p = p
        self.time_dim = time_dim

    def forward(self, x: Tensor) -> Tensor:
        return locked_dropout(x, self.p, self.training, self.time_dim)

    def extra_repr(self) -> str:
        return f"p={self.p}, time_dim={self.time_dim}"


def drop_connect(weight: Tensor, p: float, training: bool = True) -> Tensor:
    """DropConnect: dropout applied to a weight matrix (each entry kept with prob. ``1 - p``)."""
    return F.dropout(weight, p, training) if training and p > 0 else weight


def embedding_dropout(embed: nn.Embedding, ids: Tensor, p: float, training: bool = True) -> Tensor:
    """Look up ``ids`` in ``embed`` with whole rows (word types) dropped with probability ``p``."""
    if not training or p == 0.0:
        return embed(ids)
    keep = embed.weight.new_empty(embed.weight.shape[0], 1).bernoulli_(1.0 - p) / (1.0 - p)
    weight = embed.weight * keep  # (V, E)
    return F.embedding(ids, weight, embed.padding_idx, embed.max_norm, embed.norm_type,
                       embed.scale_grad_by_freq, embed.sparse)


__all__ = ["locked_dropout", "LockedDropout", "drop_connect", "embedding_dropout"]
