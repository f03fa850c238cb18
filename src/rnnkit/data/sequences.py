"""Independent variable-length sequences -> shuffled, padded mini-batches with lengths.

Unlike language-model streams, these sequences are unrelated, so no state carries from one
batch to the next. The order of epoch ``e`` is a permutation drawn from ``seed + e``: the
same for a given epoch in every run, which is what makes a resumed run exact.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from rnnkit.errors import DataError


def pad_batch(items: Sequence[np.ndarray], dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Right-pad ``items`` (each ``(T_i, ...)``) with zeros -> ``(B, T_max, ...)`` and lengths ``(B,)``."""
    lengths = torch.tensor([len(x) for x in items], dtype=torch.long)
    if (lengths == 0).any():
        raise DataError("a sequence is empty; every sequence needs at least one step")
    first = np.asarray(items[0])
    out = torch.zeros((len(items), int(lengths.max()), *first.shape[1:]), dtype=dtype)
    for i, x in enumerate(items):
        out[i, : len(x)] = torch.as_tensor(np.asarray(x))
    return out, lengths


class Batch(NamedTuple):
    """One padded mini-batch.

    ``x`` (B, T, F) floats or (B, T) token ids; ``lengths`` (B,); ``y`` (B,) class ids or
    (B, T) per-step tags (0 past each length); ``chars`` (B, T, L) character ids of each
    word, 0-padded, or ``None`` when the model uses no character features.
    """

    x: Tensor
    lengths: Tensor
    y: Tensor
    chars: Tensor | None = None

    @property
    def char_lengths(self) -> Tensor | None:
        """(B, T) characters per word (id 0 is padding, never a character)."""
        return None if self.chars is None else (self.chars != 0).sum(-1)


def pad_chars(items: Sequence[np.ndarray]) -> Tensor:
    """Per-sequence ``(T_i, L_i)`` char-id arrays -> ``(B, T_max, L_max)``, zero-padded."""
    t = max(len(a) for a in items)
    width = max(a.shape[1] for a in items)
    out = torch.zeros((len(items), t, width), dtype=torch.long)
    for i, a in enumerate(items):
        out[i, : a.shape[0], : a.shape[1]] = torch.as_tensor(a)
    return out


def bucketed_order(lengths: np.ndarray, batch_size: int, rng: np.random.Generator, pool: int = 50) -> np.ndarray:
    """A permutation whose consecutive ``batch_size`` items have similar lengths.

    Items are shuffled, cut into pools of ``pool`` batches, sorted by length inside each
    pool and cut into batches; the full batches are shuffled (so an epoch does not run
    from short to long) and the one short batch, if any, goes last. Padding shrinks to
    almost nothing while every epoch still sees a new order (the bucketing iterators of
    torchtext and OpenNMT work the same way).
    """
    perm = rng.permutation(len(lengths))
    span = pool * batch_size
    chunks = [perm[i:i + span] for i in range(0, len(perm), span)]
    ordered = np.concatenate([c[np.argsort(lengths[c], kind="stable")] for c in chunks])
    full = len(ordered) // batch_size * batch_size
    batches = ordered[:full].reshape(-1, batch_size)
    return np.concatenate([batches[rng.permutation(len(batches))].reshape(-1), ordered[full:]])


class IndexedBatches:
    """Batches of ``batch_size`` items picked by index, in a seeded order per epoch.

    Subclasses set ``n_items``, ``batch_size``, ``shuffle`` and ``seed`` and define
    ``batch(idx)``; :meth:`for_epoch` gives the trainer an epoch it can resume mid-way.
    """

    n_items: int
    batch_size: int
    shuffle: bool
    seed: int

    def __len__(self) -> int:
        return -(-self.n_items // self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n_items)
        return np.random.default_rng(self.seed + epoch).permutation(self.n_items)

    def for_epoch(self, epoch: int) -> EpochBatches:
        return EpochBatches(self, self.order(epoch))

    def batch(self, idx: np.ndarray):
        raise NotImplementedError


class BucketedBatches(IndexedBatches):
    """Shuffled epochs cut into batches of similar ``sort_keys`` (see :func:`bucketed_order`);
    unshuffled (evaluation) batches keep the given order."""

    def __init__(self, sort_keys: Sequence[int], batch_size: int, shuffle: bool, seed: int) -> None:
        self._sort_keys = np.asarray(sort_keys)
        self.n_items, self.batch_size, self.shuffle, self.seed = len(sort_keys), max(1, batch_size), shuffle, seed

    def order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n_items)
        return bucketed_order(self._sort_keys, self.batch_size, np.random.default_rng(self.seed + epoch))


class SequenceBatches(IndexedBatches):
    """Padded :class:`Batch` objects over ``inputs`` with ``targets`` (and optional ``chars``).

    ``targets`` are class ids (one per sequence) or per-step tag arrays (padded like x).
    ``chars``, if given, holds for each sequence a ``(T_i, L_i)`` array of its words'
    character ids.
    """

    def __init__(self, inputs: Sequence[np.ndarray], targets: Sequence, batch_size: int, shuffle: bool = True,
                 seed: int = 0, input_dtype: torch.dtype = torch.float32,
                 chars: Sequence[np.ndarray] | None = None) -> None:
        if len(inputs) != len(targets):
            raise DataError(f"{len(inputs)} sequences but {len(targets)} targets")
        if not inputs:
            raise DataError("no sequences to batch")
        if chars is not None and len(chars) != len(inputs):
            raise DataError(f"{len(inputs)} sequences but {len(chars)} character arrays")
        self.inputs, self.targets, self.chars = inputs, targets, chars
        self.batch_size = max(1, batch_size)
        self.shuffle, self.seed, self.input_dtype = shuffle, seed, input_dtype
        self.per_step = np.ndim(targets[0]) > 0
        self.n_items = len(inputs)

    def batch(self, idx: np.ndarray) -> Batch:
        x, lengths = pad_batch([self.inputs[i] for i in idx], self.input_dtype)
        if self.per_step:
            y, _ = pad_batch([np.asarray(self.targets[i]) for i in idx], torch.long)
        else:
            y = torch.tensor([self.targets[i] for i in idx], dtype=torch.long)
        chars = None if self.chars is None else pad_chars([self.chars[i] for i in idx])
        return Batch(x, lengths, y, chars)


class EpochBatches:
    """One epoch's batches in a fixed order, with ``iter_from(k)`` for resuming mid-epoch."""

    def __init__(self, source: IndexedBatches, order: np.ndarray) -> None:
        self.source, self.order = source, order

    def __len__(self) -> int:
        return len(self.source)

    def iter_from(self, k: int) -> Iterator[Batch]:
        bs = self.source.batch_size
        for start in range(k * bs, len(self.order), bs):
            yield self.source.batch(self.order[start:start + bs])

    def __iter__(self):
        return self.iter_from(0)
