"""Parallel text for translation: sentence pairs, read, checked, filtered and batched.

Two layouts: a TSV of pairs (``source<TAB>target``, extra columns ignored -- the
Tatoeba/ManyThings ``fra.txt`` files carry an attribution third), or two line-aligned
files, one sentence per line (Multi30k's ``train.en`` / ``train.de``; ``.gz`` is read
as is). Alignment is everything in parallel data, so a count mismatch or an empty line
is an error that names the file and line, never a silent shift.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.sentences import decoder_targets
from rnnkit.data.sequences import BucketedBatches, pad_batch
from rnnkit.data.text import read_text
from rnnkit.errors import DataError


def _lines(path: Path) -> list[str]:
    text = read_text(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start another
    return [line.rstrip("\r") for line in lines]


def read_pairs_tsv(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``(sources, targets)`` from ``source<TAB>target[<TAB>...]`` lines (blank lines skipped)."""
    path = Path(path)
    src, tgt = [], []
    for lineno, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(f"{path}, line {lineno}: expected 'source<TAB>target', found no tab")
        s, t = fields[0].strip(), fields[1].strip()
        if not s or not t:
            raise DataError(f"{path}, line {lineno}: the {'source' if not s else 'target'} sentence is empty")
        src.append(s)
        tgt.append(t)
    if not src:
        raise DataError(f"{path} holds no sentence pairs")
    return src, tgt


def read_aligned(src_path: str | os.PathLike, tgt_path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``(sources, targets)`` from two files with one sentence per line, line ``i`` with line ``i``."""
    src_path, tgt_path = Path(src_path), Path(tgt_path)
    src, tgt = _lines(src_path), _lines(tgt_path)
    if len(src) != len(tgt):
        raise DataError(f"misaligned files: {src_path} has {len(src):,} lines but {tgt_path} has {len(tgt):,}")
    for path, lines in ((src_path, src), (tgt_path, tgt)):
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                raise DataError(f"{path}, line {lineno} is empty; every line must hold the sentence that "
                                f"translates line {lineno} of the other file")
    return [s.strip() for s in src], [t.strip() for t in tgt]


def read_parallel(pairs: str | os.PathLike | None = None, src: str | os.PathLike | None = None,
                  tgt: str | os.PathLike | None = None) -> tuple[list[str], list[str]]:
    """Either ``pairs`` (a TSV) or both ``src`` and ``tgt`` (aligned files)."""
    if pairs is not None and (src is not None or tgt is not None):
        raise DataError("give either a pairs file or --src/--tgt files, not both")
    if pairs is not None:
        return read_pairs_tsv(pairs)
    if src is None or tgt is None:
        raise DataError("give a pairs file (source<TAB>target) or both --src and --tgt")
    return read_aligned(src, tgt)


def keep_by_length(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], max_length: int,
                   min_length: int = 1) -> np.ndarray:
    """Indices of the pairs whose both sides have ``min_length..max_length`` tokens."""
    return np.array([i for i, (s, t) in enumerate(zip(src, tgt))
                     if min_length <= len(s) <= max_length and min_length <= len(t) <= max_length], dtype=np.int64)


class PairBatch(NamedTuple):
    """``src`` (B, S) ids with ``src_lengths`` (B,); the decoder reads ``tgt_in`` =
    ``<bos> y_1 .. y_n`` and predicts ``tgt_out`` = ``y_1 .. y_n <eos>`` (B, T), padded with 0."""

    src: Tensor
    src_lengths: Tensor
    tgt_in: Tensor
    tgt_out: Tensor
    tgt_lengths: Tensor


class PairBatches(BucketedBatches):
    """Sentence pairs in batches of similar length (see :func:`bucketed_order`)."""

    def __init__(self, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], batch_size: int, shuffle: bool = True,
                 seed: int = 0) -> None:
        if len(src) != len(tgt):
            raise DataError(f"{len(src)} source sentences but {len(tgt)} targets")
        if not len(src):
            raise DataError("no sentence pairs to batch")
        self.src, self.tgt = src, tgt
        # sort key: target length first (the decoder's steps), source length to break ties
        super().__init__([len(t) * 1000 + len(s) for s, t in zip(src, tgt)], batch_size, shuffle, seed)

    def batch(self, idx: np.ndarray) -> PairBatch:
        src, src_lengths = pad_batch([self.src[i] for i in idx], torch.long)
        tgt_in, tgt_out, tgt_lengths = decoder_targets([self.tgt[i] for i in idx])
        return PairBatch(src, src_lengths, tgt_in, tgt_out, tgt_lengths)
