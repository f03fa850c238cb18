"""Character and word error rates: the edit distance between what was said (or printed) and
what a recogniser wrote, divided by the length of the reference.

.. math::
    \\mathrm{CER} = \\frac{\\sum_i d(r_i, h_i)}{\\sum_i |r_i|}

with :math:`d` the Levenshtein distance (substitutions, deletions and insertions, each
costing 1) over characters; WER the same over whitespace-separated words. Summed over the
corpus before dividing, as NIST's sclite and ``jiwer`` report them (not a mean of per-utterance
rates, which would weigh a two-word utterance like a twenty-word one).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def edit_distance(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> int:
    """Levenshtein distance: the fewest substitutions, deletions and insertions that turn
    ``reference`` into ``hypothesis`` (dynamic programming, one row at a time)."""
    n = len(hypothesis)
    previous = np.arange(n + 1)
    for i, r in enumerate(reference, 1):
        current = np.empty(n + 1, dtype=np.int64)
        current[0] = i
        for j, h in enumerate(hypothesis, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return int(previous[n])


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """``cer`` and ``wer`` over a corpus (edits summed, then divided by the reference length),
    with the counts they come from and the share of utterances recognised exactly."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    char_edits = char_total = word_edits = word_total = exact = 0
    for ref, hyp in zip(references, hypotheses):
        char_edits += edit_distance(ref, hyp)
        char_total += len(ref)
        ref_words, hyp_words = ref.split(), hyp.split()
        word_edits += edit_distance(ref_words, hyp_words)
        word_total += len(ref_words)
        exact += ref == hyp
    return {"cer": char_edits / max(1, char_total), "wer": word_edits / max(1, word_total),
            "char_edits": char_edits, "chars": char_total, "word_edits": word_edits, "words": word_total,
            "exact": exact / max(1, len(references))}


__all__ = ["edit_distance", "error_rates"]
