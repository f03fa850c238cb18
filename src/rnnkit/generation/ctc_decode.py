"""Decoding connectionist temporal classification (CTC; Graves et al. 2006) outputs.

A CTC model gives, at every frame ``t``, log-probabilities over the labels plus a *blank*
``∅``. A path :math:`\\pi` (one symbol per frame) maps to a label sequence by
:math:`\\mathcal{B}`: merge repeated symbols, then drop blanks (``aa∅ab`` -> ``aab``).
The probability of a labelling :math:`y` sums over every path that maps to it,
:math:`p(y|x) = \\sum_{\\pi \\in \\mathcal{B}^{-1}(y)} \\prod_t p(\\pi_t|x)`.

* :func:`greedy_decode` (best path): the most likely symbol at every frame, then
  :math:`\\mathcal{B}`. Exact for the best *path*, not the best labelling; constant cost per
  frame, so it streams (:class:`GreedyStream`).
* :func:`prefix_beam_search` (Hannun et al. 2014): keeps the ``beam`` best label prefixes,
  each with the probability of its paths ending in a blank and in a non-blank (the two must
  be kept apart: a repeated label needs a blank between its two copies), so the sum over
  paths is exact within the beam. Optionally adds ``lm_weight * log p_LM(c | prefix)`` when a
  prefix is extended by ``c`` (shallow fusion) and ``length_bonus`` per label, which offsets
  the language model's preference for short outputs.

Inputs are ``(T, C)`` arrays of log-probabilities (``log_softmax`` outputs), label ids from 0
to C-1 with ``blank`` among them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

NEG_INF = -math.inf


def _logaddexp(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


def collapse(path: Sequence[int], blank: int = 0) -> list[int]:
    """:math:`\\mathcal{B}`: merge repeats, then drop blanks."""
    out: list[int] = []
    previous = None
    for s in path:
        if s != previous and s != blank:
            out.append(int(s))
        previous = s
    return out


def greedy_decode(log_probs: np.ndarray, blank: int = 0) -> list[int]:
    """Best-path decoding of ``(T, C)`` scores."""
    scores = np.asarray(log_probs)
    if scores.ndim != 2:
        raise ValueError(f"expected (time, labels) scores, got shape {scores.shape}")
    return collapse(scores.argmax(-1).tolist(), blank)


class GreedyStream:
    """Best-path decoding a frame (or a chunk of frames) at a time: the labels that each
    chunk completes, the same in total as :func:`greedy_decode` over the whole utterance."""

    def __init__(self, blank: int = 0) -> None:
        self.blank = blank
        self.previous: int | None = None

    def push(self, log_probs: np.ndarray) -> list[int]:
        scores = np.asarray(log_probs)
        out: list[int] = []
        for s in (scores[None] if scores.ndim == 1 else scores).argmax(-1).tolist():
            if s != self.previous and s != self.blank:
                out.append(int(s))
            self.previous = s
        return out


class LabelLM(Protocol):
    """What shallow fusion needs of a language model over label ids."""

    def log_prob(self, context: Sequence[int], label: int) -> float: ...


class CharNGram:
    """A label (character) n-gram model with add-``k`` smoothing, backing off to the longest
    context seen in training: :math:`p(c|h) = (n(h, c) + k) / (n(h) + k V)`.

    ``fit`` takes label-id sequences (the training transcripts); the start of a sequence is
    padded with ``-1`` so the first labels have contexts too.
    """

    def __init__(self, order: int = 3, num_labels: int = 0, k: float = 0.1) -> None:
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        self.order, self.num_labels, self.k = order, num_labels, k
        self.counts: dict[tuple[int, ...], Counter[int]] = defaultdict(Counter)
        self.totals: Counter[tuple[int, ...]] = Counter()  # n(h), kept so a beam's query need not sum

    def fit(self, sequences: Sequence[Sequence[int]]) -> CharNGram:
        for seq in sequences:
            padded = [-1] * (self.order - 1) + [int(s) for s in seq]
            for i in range(self.order - 1, len(padded)):
                for n in range(self.order):  # contexts of length 0 .. order-1
                    h = tuple(padded[i - n:i])
                    self.counts[h][padded[i]] += 1
                    self.totals[h] += 1
        return self

    def log_prob(self, context: Sequence[int], label: int) -> float:
        history = [-1] * (self.order - 1) + [int(s) for s in context]
        for n in range(self.order - 1, -1, -1):  # the longest context seen in training
            h = tuple(history[len(history) - n:]) if n else ()
            seen = self.counts.get(h)
            if seen:
                return math.log((seen[label] + self.k) / (self.totals[h] + self.k * max(1, self.num_labels)))
        return -math.log(max(1, self.num_labels))

    def to_dict(self) -> dict:
        return {"order": self.order, "num_labels": self.num_labels, "k": self.k,
                "counts": [[list(h), dict(c)] for h, c in self.counts.items()]}

    @classmethod
    def from_dict(cls, d: dict) -> CharNGram:
        lm = cls(d["order"], d["num_labels"], d["k"])
        for h, c in d["counts"]:
            lm.counts[tuple(h)] = Counter({int(k): v for k, v in c.items()})
            lm.totals[tuple(h)] = sum(lm.counts[tuple(h)].values())
        return lm


def prefix_beam_search(log_probs: np.ndarray, beam: int = 8, blank: int = 0, lm: LabelLM | None = None,
                       lm_weight: float = 0.0, length_bonus: float = 0.0, prune: float = -12.0) -> list[int]:
    """The most probable labelling found by CTC prefix beam search over ``(T, C)`` scores.

    ``prune``: at each frame only labels with log-probability above it are tried (blank
    always is), which keeps the search linear in the labels that matter."""
    scores = np.asarray(log_probs, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"expected (time, labels) scores, got shape {scores.shape}")
    if beam < 1:
        raise ValueError(f"beam must be at least 1, got {beam}")
    use_lm = lm is not None and lm_weight != 0.0
    # prefix -> [log p(paths ending in blank), log p(paths ending in a label)]
    beams: dict[tuple[int, ...], list[float]] = {(): [0.0, NEG_INF]}
    fused: dict[tuple[int, ...], float] = {(): 0.0}  # LM and length terms of each prefix, added once per label

    def extension(prefix: tuple[int, ...], c: int) -> float:
        bonus = length_bonus
        if use_lm:
            assert lm is not None
            bonus += lm_weight * lm.log_prob(prefix, c)
        return bonus

    for frame in scores:
        candidates = [c for c in np.flatnonzero(frame > prune).tolist() if c != blank]
        following: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [NEG_INF, NEG_INF])
        for prefix, (p_blank, p_label) in beams.items():
            total = _logaddexp(p_blank, p_label)
            stay = following[prefix]
            stay[0] = _logaddexp(stay[0], total + frame[blank])  # a blank keeps the prefix
            last = prefix[-1] if prefix else None
            for c in candidates:
                p = float(frame[c])
                new = prefix + (c,)
                if new not in fused:
                    fused[new] = fused[prefix] + extension(prefix, c)
                grown = following[new]
                if c == last:
                    stay[1] = _logaddexp(stay[1], p_label + p)  # the same label again: merged
                    grown[1] = _logaddexp(grown[1], p_blank + p)  # a new copy only after a blank
                else:
                    grown[1] = _logaddexp(grown[1], total + p)
        ranked = sorted(following.items(), key=lambda kv: _logaddexp(*kv[1]) + fused[kv[0]], reverse=True)
        beams = dict(ranked[:beam])
    best = max(beams.items(), key=lambda kv: _logaddexp(*kv[1]) + fused[kv[0]])
    return list(best[0])


__all__ = ["collapse", "greedy_decode", "GreedyStream", "CharNGram", "prefix_beam_search", "LabelLM"]
