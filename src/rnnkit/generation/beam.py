"""Decoding an encoder-decoder: greedy search and beam search.

Both work on any model with ``encode(src, src_lengths) -> (memory, state)`` and
``step(tokens (B,), state, memory) -> (logits (B, V), state, attention (B, S))``
whose memory and state have ``select(index)`` (see :mod:`rnnkit.models.seq2seq`).

A hypothesis's ``score`` is its log-probability under the model, ``<eos>`` included.
Beam search (as in Sutskever et al. 2014; Wu et al. 2016 for the length penalty) keeps
the ``beam_size`` best prefixes per sentence; a prefix that writes ``<eos>`` is set aside
as finished, so the beam stays full. It stops for a sentence once ``beam_size``
hypotheses have finished (or, without a length penalty, once no live prefix can beat
the best finished one: log-probabilities only fall) and returns the finished one with
the best length-normalised score

.. math:: \\frac{\\log p(y \\mid x)}{((5 + |y|) / 6)^\\alpha}

(``length_penalty`` = α; 0 ranks by the raw log-probability, which favours short outputs).
Only endings ranked inside the beam are kept as hypotheses. Beam search prunes, so it
can (rarely) lose the greedy path; it finds the better-scoring output on average.
Every sentence may write at most ``ceil(max_length_ratio * source length)`` tokens
before ``<eos>``; a hypothesis still running then is finished where it stands.

The special token ids come from the caller's vocabulary (:class:`SpecialIds`): decoding
starts from ``bos``, ends at ``eos``, and never writes ``bos`` or ``pad``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.errors import ConfigError


@dataclass(frozen=True)
class SpecialIds:
    """The ids a decoder needs from its target vocabulary."""

    bos: int
    eos: int
    pad: int

    @property
    def banned(self) -> tuple[int, ...]:
        """Tokens a decoder never writes."""
        return (self.pad, self.bos)


@dataclass
class Hypothesis:
    ids: list[int]  # output tokens, <eos> excluded
    score: float  # log p(ids, <eos> | source) (without <eos> if cut at the length limit)
    attention: Tensor | None = None  # (len(ids) + 1, S): the weights each output step used

    def normalised(self, alpha: float) -> float:
        return length_normalised(self.score, len(self.ids) + 1, alpha)


def length_normalised(score: float, length: int, alpha: float) -> float:
    return score / (((5.0 + length) / 6.0) ** alpha) if alpha else score


def max_output_lengths(src_lengths: Tensor, ratio: float) -> list[int]:
    if ratio <= 0:
        raise ConfigError(f"max_length_ratio must be positive, got {ratio}")
    return [max(1, math.ceil(ratio * int(n))) for n in src_lengths.tolist()]


def _banned_mask(vocab_size: int, banned: tuple[int, ...], device) -> Tensor:
    bias = torch.zeros(vocab_size, device=device)
    bias[list(banned)] = float("-inf")
    return bias


@torch.no_grad()
def greedy_search(model, src: Tensor, src_lengths: Tensor, specials: SpecialIds, max_length_ratio: float = 1.5,
                  return_attention: bool = False) -> list[Hypothesis]:
    """The most likely next token at every step, for a batch of sources at once."""
    limits = max_output_lengths(src_lengths, max_length_ratio)
    memory, state = model.encode(src, src_lengths)
    batch = src.shape[0]
    tokens = torch.full((batch,), specials.bos, dtype=torch.long, device=src.device)
    ids: list[list[int]] = [[] for _ in range(batch)]
    scores = [0.0] * batch
    attn: list[list[Tensor]] = [[] for _ in range(batch)]
    done = [False] * batch
    bias = None
    for t in range(max(limits) + 1):
        logits, state, weights = model.step(tokens, state, memory)
        bias = _banned_mask(logits.shape[-1], specials.banned, logits.device) if bias is None else bias
        logp = torch.log_softmax(logits.float(), -1) + bias
        best, tokens = logp.max(-1)
        best_list, token_list = best.tolist(), tokens.tolist()  # one transfer per step
        w_cpu = weights.cpu() if return_attention else torch.empty(0)
        for b in range(batch):
            if done[b]:
                continue
            if return_attention:
                attn[b].append(w_cpu[b])
            tok = token_list[b]
            if tok == specials.eos or t >= limits[b]:  # at the limit the sentence ends here
                done[b] = True
                if tok == specials.eos:
                    scores[b] += best_list[b]
                continue
            ids[b].append(tok)
            scores[b] += best_list[b]
        if all(done):
            break
    return [Hypothesis(ids[b], scores[b], torch.stack(attn[b]) if return_attention else None) for b in range(batch)]


@torch.no_grad()
def beam_search(model, src: Tensor, src_lengths: Tensor, specials: SpecialIds, beam_size: int = 5,
                length_penalty: float = 0.6, max_length_ratio: float = 1.5,
                return_attention: bool = False) -> list[Hypothesis]:
    """The best of ``beam_size`` hypotheses per source (see the module docstring)."""
    if beam_size < 1:
        raise ConfigError(f"beam size must be at least 1, got {beam_size}")
    limits = max_output_lengths(src_lengths, max_length_ratio)
    batch, k, device = src.shape[0], beam_size, src.device
    memory, state = model.encode(src, src_lengths)
    origin = torch.arange(batch, device=device).repeat_interleave(k)
    memory, state = memory.select(origin), state.select(origin)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live prefix (<bos>) per sentence to start
    tokens = torch.full((batch * k,), specials.bos, dtype=torch.long, device=device)
    prefixes: list[list[int]] = [[] for _ in range(batch * k)]
    attn: list[list[Tensor]] = [[] for _ in range(batch * k)]
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    done = [False] * batch
    bias = None
    for t in range(max(limits) + 1):
        logits, state, weights = model.step(tokens, state, memory)
        bias = _banned_mask(logits.shape[-1], specials.banned, device) if bias is None else bias
        logp = torch.log_softmax(logits.float(), -1) + bias  # (B*K, V)
        vocab = logp.shape[-1]
        cand = (scores.view(-1, 1) + logp).view(batch, k * vocab)
        top = cand.topk(min(2 * k, k * vocab), dim=1)  # (B, 2K): enough to refill after <eos>
        top_scores, top_idx = top.values.tolist(), top.indices.tolist()
        w_cpu = weights.cpu() if return_attention else torch.empty(0)
        live_scores = scores.view(-1).tolist()
        # bookkeeping on the CPU: one transfer per step, not one per candidate
        new_scores = torch.full((batch, k), float("-inf"))
        new_from = torch.zeros((batch, k), dtype=torch.long)
        new_tokens = torch.full((batch, k), specials.pad, dtype=torch.long)
        for b in range(batch):
            if done[b]:
                new_from[b] = b * k
                continue
            filled = 0
            for rank, (sc, flat) in enumerate(zip(top_scores[b], top_idx[b])):
                if sc == float("-inf"):
                    break
                row, tok = b * k + flat // vocab, flat % vocab
                if tok == specials.eos or t >= limits[b]:
                    steps = attn[row] + [w_cpu[row]] if return_attention else None
                    if tok == specials.eos:
                        if rank >= k:  # an ending ranked below the beam is not a beam hypothesis
                            continue
                        finished[b].append(Hypothesis(list(prefixes[row]), sc,
                                                      torch.stack(steps) if steps else None))
                    else:  # the length limit: finish the live prefix as it stands
                        prev = live_scores[row]
                        if not any(h.ids == prefixes[row] for h in finished[b]):
                            finished[b].append(Hypothesis(list(prefixes[row]), prev,
                                                          torch.stack(attn[row][:len(prefixes[row])] + [w_cpu[row]])
                                                          if return_attention else None))
                    continue
                new_scores[b, filled], new_from[b, filled], new_tokens[b, filled] = sc, row, tok
                filled += 1
                if filled == k:
                    break
            best_live = float(new_scores[b, 0])
            if (len(finished[b]) >= k or filled == 0
                    or (length_penalty == 0 and finished[b] and max(h.score for h in finished[b]) >= best_live)):
                done[b] = True
                new_from[b] = b * k
                new_scores[b] = float("-inf")
        if all(done):
            break
        rows = new_from.view(-1).tolist()
        prefixes = [prefixes[r] + [int(tok)] for r, tok in zip(rows, new_tokens.view(-1).tolist())]
        if return_attention:
            attn = [attn[r] + [w_cpu[r]] for r in rows]
        index = new_from.view(-1).to(device)
        state = state.select(index)
        scores = new_scores.to(device)
        tokens = new_tokens.view(-1).to(device)
    return [max(finished[b], key=lambda h: h.normalised(length_penalty)) for b in range(batch)]
