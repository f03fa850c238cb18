"""Attention over an encoder's outputs: which source words a decoder step looks at.

Scores of a query ``q`` (the decoder state, (B, Q)) against every memory vector ``m_s``
(the encoder outputs, (B, S, M)):

* ``"dot"`` (Luong et al. 2015): :math:`q^\\top m_s` (needs Q == M);
* ``"general"`` (Luong et al. 2015): :math:`q^\\top W_a m_s`;
* ``"additive"`` (Bahdanau et al. 2015, "concat" in Luong):
  :math:`v_a^\\top \\tanh(W_q q + W_m m_s)`.

Weights :math:`a = \\mathrm{softmax}(\\text{scores})` over the valid (unpadded) source
steps, context :math:`c = \\sum_s a_s m_s` (B, M). The memory-side half of each score
(``W_a m`` or ``W_m m``) is computed once per sentence by :meth:`prepare`, not once per
decoder step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ATTENTION_KINDS = ("dot", "general", "additive")


class Attention(nn.Module):
    def __init__(self, kind: str, query_size: int, memory_size: int, attention_size: int | None = None) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTION_KINDS)}, got {kind!r}")
        if kind == "dot" and query_size != memory_size:
            raise ValueError(f"dot attention needs query and memory of one size, got {query_size} and {memory_size}")
        self.kind = kind
        if kind == "general":
            self.memory_proj = nn.Linear(memory_size, query_size, bias=False)
        elif kind == "additive":
            size = attention_size or query_size
            self.memory_proj = nn.Linear(memory_size, size, bias=False)
            self.query_proj = nn.Linear(query_size, size)
            self.v = nn.Linear(size, 1, bias=False)

    def prepare(self, memory: Tensor) -> Tensor:
        """The per-sentence part of the scores: ``memory`` (B, S, M) -> keys (B, S, ·)."""
        return memory if self.kind == "dot" else self.memory_proj(memory)

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``query`` (B, Q) -- or (B, T, Q) for T decoder steps at once --, ``keys`` from
        :meth:`prepare`, ``memory`` (B, S, M), ``mask`` (B, S) True on valid steps ->
        context (B, M) and weights (B, S) (or (B, T, M) and (B, T, S))."""
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # (B, T, Q)
        if self.kind == "additive":
            scores = self.v(torch.tanh(keys.unsqueeze(1) + self.query_proj(q).unsqueeze(2))).squeeze(-1)  # (B, T, S)
        else:
            scores = torch.bmm(q, keys.transpose(1, 2))  # (B, T, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        # half-precision scores are normalised in float32; float64 stays float64
        weights = torch.softmax(scores, dim=-1, dtype=torch.promote_types(scores.dtype, torch.float32))
        weights = weights.to(memory.dtype)
        context = torch.bmm(weights, memory)  # (B, T, M)
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)
