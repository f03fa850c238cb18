"""The parallel scan of a first-order linear recurrence, in log space.

Cells whose gates do not read the previous state (minGRU, minLSTM) reduce to

    h_t = a_t * h_{t-1} + b_t        a_t in (0, 1), b_t > 0, h_0 >= 0

which unrolls to ``h_t = A_t * (h_0 + sum_{s<=t} b_s / A_s)`` with ``A_t = prod_{r<=t} a_r``.
Computed as written, ``A_t`` underflows within a few hundred steps; in log space
(Heinsen 2023, "Efficient Parallelization of a Ubiquitous Sequential Computation") it is

    log h_t = a*_t + logcumsumexp_{s<=t}(log b_s - a*_s),     a*_t = sum_{r<=t} log a_r

with ``h_0`` entering as the term ``s = 0`` (``log b_0 = log h_0``, ``a*_0 = 0``): two
cumulative operations over time instead of T dependent steps, so a sequence costs
O(log T) depth and trains like a convolution. Stepping the recurrence one step at a time
(generation, streaming) gives the same numbers up to rounding.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def log_g(x: Tensor) -> Tensor:
    """``log g(x)`` for minGRU's positive activation ``g(x) = x + 0.5`` (x >= 0), ``sigmoid(x)``
    (x < 0): continuous, increasing, always > 0, so its log exists."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def g(x: Tensor) -> Tensor:
    """minGRU's positive activation (see :func:`log_g`)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None) -> Tensor:
    """All ``h_t`` of ``h_t = a_t h_{t-1} + b_t`` from ``log a``, ``log b`` (T, B, H) and ``h0``
    (B, H) >= 0 (``None``: zero); returns (T, B, H). ``log b = -inf`` with ``log a = 0`` leaves
    the state as it is (how padded steps are skipped)."""
    a_star = torch.cumsum(log_a, dim=0)  # (T, B, H)
    log_terms = log_b - a_star
    if h0 is not None and bool((h0 != 0).any()):
        # the state as the term s = 0; a zero entry (never reached by a cell, whose states are
        # positive) is the smallest positive number, so that no log of zero enters a gradient
        log_h0 = torch.log(h0.clamp_min(torch.finfo(h0.dtype).tiny)).unsqueeze(0)
        log_h = a_star + torch.logcumsumexp(torch.cat([log_h0, log_terms], dim=0), dim=0)[1:]
    else:
        log_h = a_star + torch.logcumsumexp(log_terms, dim=0)
    return torch.exp(log_h)


__all__ = ["log_scan", "log_g", "g"]
