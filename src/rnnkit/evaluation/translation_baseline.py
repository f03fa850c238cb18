"""The baseline a translation model must beat: word-for-word translation with a dictionary.

The dictionary is IBM Model 1 (Brown et al. 1993), learnt from the training pairs alone by
expectation-maximisation: ``t(f | e)``, the probability that source word ``e`` (or the empty
NULL word) is translated as target word ``f``, starts uniform over the pairs that co-occur
in some sentence pair; each E-step shares every target token among the source words of its
sentence in proportion to ``t``, each M-step renormalises the shares per source word. Decoding
keeps the source order and writes, for each source word, its most probable target word
(``<unk>`` for ``<unk>``): no reordering, no fluency, so a model of a language's word order
and context must do clearly better.

Everything works on the ids of the translator's own vocabularies; the arrays hold one entry
per (target token, source token) pair of the corpus (about 5 million for Multi30k's 29,000
pairs), so EM runs as a few NumPy passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NAME = "word for word (IBM Model 1 dictionary)"
#: (target token, source token) links EM may hold (about 0.5 GB of arrays); a larger corpus is
#: learnt from a random subset of its pairs
MAX_LINKS = 20_000_000


def ibm1_dictionary(sources: Sequence[np.ndarray], targets: Sequence[np.ndarray], source_size: int,
                    iterations: int = 5) -> np.ndarray:
    """``(source_size,)`` ids: each source word's most probable translation under IBM Model 1
    (``-1`` for a word that never co-occurs with a target word). Past :data:`MAX_LINKS` links,
    a random subset of the pairs (seed 0) is used."""
    null = source_size  # the empty word, one per source sentence
    links = np.array([(len(e) + 1) * len(f) for e, f in zip(sources, targets)], dtype=np.int64)
    if links.sum() > MAX_LINKS:
        order = np.random.default_rng(0).permutation(len(links))
        used = np.sort(order[np.cumsum(links[order]) <= MAX_LINKS])
        sources, targets = [sources[i] for i in used], [targets[i] for i in used]
    src_parts, tgt_parts, group_parts = [], [], []
    group = 0
    for e, f in zip(sources, targets):
        if len(f) == 0:
            continue
        e = np.append(np.asarray(e, dtype=np.int64), null)
        f = np.asarray(f, dtype=np.int64)
        src_parts.append(np.tile(e, len(f)))
        tgt_parts.append(np.repeat(f, len(e)))
        group_parts.append(np.repeat(np.arange(group, group + len(f)), len(e)))
        group += len(f)
    if not src_parts:
        return np.full(source_size, -1, dtype=np.int64)
    src, tgt, groups = np.concatenate(src_parts), np.concatenate(tgt_parts), np.concatenate(group_parts)
    target_size = int(tgt.max()) + 1
    keys, pair = np.unique(src * target_size + tgt, return_inverse=True)  # pair: index of t for each entry
    key_src, key_tgt = keys // target_size, keys % target_size
    t = np.ones(len(keys))
    for _ in range(iterations):
        weight = t[pair]
        share = weight / np.bincount(groups, weights=weight)[groups]  # E: each target token's alignments
        counts = np.bincount(pair, weights=share, minlength=len(keys))
        t = counts / np.bincount(key_src, weights=counts, minlength=null + 1)[key_src]  # M: per source word
    best = np.full(source_size, -1, dtype=np.int64)
    order = np.lexsort((-t, key_src))  # by source word, most probable translation first
    first = np.ones(len(order), dtype=bool)
    first[1:] = key_src[order][1:] != key_src[order][:-1]
    chosen = order[first]
    keep = key_src[chosen] < source_size  # the NULL word's translations are never written
    best[key_src[chosen][keep]] = key_tgt[chosen][keep]
    return best


def word_for_word(dictionary: np.ndarray, source: np.ndarray, unk_source: int, unk_target: int) -> np.ndarray:
    """Target ids for one sentence's source ids, in the source order."""
    out = [unk_target if e == unk_source else dictionary[e] for e in np.asarray(source, dtype=np.int64)]
    return np.asarray([i for i in out if i >= 0], dtype=np.int64)


__all__ = ["ibm1_dictionary", "word_for_word", "NAME"]
