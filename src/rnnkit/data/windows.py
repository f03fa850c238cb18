"""Time-ordered splits, scalers fitted on the training rows, and forecasting windows.

A window is named by its *origin* ``t``, the index of the first step to forecast: its
context is rows ``[t - context, t)`` and its target rows ``[t, t + horizon)``. A window
belongs to a split when its whole target lies inside that split, so no training target
ever reaches into the validation or test rows; the context may look back into the
rows before the split, exactly as a forecaster standing at ``t`` could.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.sequences import IndexedBatches
from rnnkit.errors import ConfigError, DataError

SCALERS = ("standard", "minmax", "none")
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class SplitBounds:
    """Row boundaries: train ``[0, train_end)``, valid ``[train_end, valid_end)``, test
    ``[valid_end, test_end)``; rows from ``test_end`` on are not used."""

    train_end: int
    valid_end: int
    test_end: int

    def rows(self, split: str) -> tuple[int, int]:
        return {"train": (0, self.train_end), "valid": (self.train_end, self.valid_end),
                "test": (self.valid_end, self.test_end), "all": (0, self.test_end)}[split]


def split_bounds(n: int, split: Sequence[float]) -> SplitBounds:
    """``split`` = (train, valid, test) as fractions of the ``n`` rows (0.7, 0.1, 0.2) or as
    row counts (8640, 2880, 2880); a part may be 0. Fractions or counts must not add up to
    more than the whole."""
    if len(split) != 3 or any(v < 0 for v in split):
        raise ConfigError(f"split takes three non-negative numbers (train, valid, test), got {tuple(split)}")
    if all(float(v) <= 1 for v in split):
        if sum(split) > 1 + 1e-9:
            raise ConfigError(f"split fractions add up to {sum(split):g} > 1")
        a = int(round(n * split[0]))
        b = a + int(round(n * split[1]))
        c = min(n, b + int(round(n * split[2])))
    else:
        a, b = int(split[0]), int(split[0]) + int(split[1])
        c = b + int(split[2])
        if c > n:
            raise DataError(f"split asks for {c} rows but the series has {n}")
    return SplitBounds(a, b, c)


def split_bounds_at(times, valid_start, test_start, test_end=None) -> SplitBounds:
    """Bounds from dates: validation from ``valid_start``, test from ``test_start`` (to
    ``test_end``, exclusive, or the end)."""
    import pandas as pd

    def row(value) -> int:
        return int(times.searchsorted(pd.Timestamp(value)))

    a, b = row(valid_start), row(test_start)
    c = len(times) if test_end is None else row(test_end)
    if not a <= b <= c:
        raise ConfigError(f"dates out of order: validation from {valid_start}, test from {test_start}")
    return SplitBounds(a, b, c)


def window_origins(bounds: SplitBounds, split: str, context: int, horizon: int, stride: int = 1) -> np.ndarray:
    """Origins ``t`` of the windows whose targets ``[t, t + horizon)`` lie in ``split`` and
    whose context ``[t - context, t)`` lies in the series; ``stride`` apart."""
    lo, hi = bounds.rows(split)
    first = max(lo, context)
    last = hi - horizon
    if last < first:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first, last + 1, stride, dtype=np.int64)


class Scaler:
    """Per-column affine scaling ``(x - loc) / scale``, fitted on training rows only.

    ``standard``: loc = mean, scale = standard deviation; ``minmax``: to [0, 1];
    ``none``: identity. A column that is constant on the training rows has no scale to
    learn from, which is a user error unless the kind is ``none``.
    """

    def __init__(self, kind: str = "standard", loc: np.ndarray | None = None, scale: np.ndarray | None = None):
        if kind not in SCALERS:
            raise ConfigError(f"scaler must be one of {', '.join(SCALERS)}, got {kind!r}")
        self.kind = kind
        # empty until fit (or given): the per-column offset and scale
        self.loc: np.ndarray = np.zeros(0) if loc is None else np.asarray(loc)
        self.scale: np.ndarray = np.zeros(0) if scale is None else np.asarray(scale)

    def fit(self, values: np.ndarray, names: Sequence[str] = (), where: str = "") -> Scaler:
        values = np.asarray(values, dtype=np.float64)
        if self.kind == "none":
            self.loc, self.scale = np.zeros(values.shape[1]), np.ones(values.shape[1])
            return self
        if self.kind == "standard":
            self.loc, self.scale = values.mean(0), values.std(0)
        else:
            self.loc, self.scale = values.min(0), values.max(0) - values.min(0)
        flat = np.flatnonzero(self.scale <= 1e-12 * np.maximum(1.0, np.abs(self.loc)))
        if len(flat):
            name = names[flat[0]] if len(names) > flat[0] else f"column {flat[0]}"
            raise DataError(f"{name!r}{where} is constant ({self.loc[flat[0]]:g}) on the training rows: "
                            "nothing to scale by; pass --scaler none to fit it anyway")
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.loc) / self.scale).astype(np.float32)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Back to original units; ``values`` ends in the column axis."""
        return values * self.scale + self.loc

    def to_dict(self) -> dict:
        return {"kind": self.kind, "loc": np.asarray(self.loc).tolist(), "scale": np.asarray(self.scale).tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(d["kind"], np.asarray(d["loc"], dtype=np.float64), np.asarray(d["scale"], dtype=np.float64))


class WindowBatch(NamedTuple):
    """``past`` (B, C, n_targets + n_past + n_known): the context, targets first;
    ``future`` (B, H, n_known): known-future covariates over the horizon;
    ``y`` (B, H, n_targets): the targets to forecast (scaled)."""

    past: Tensor
    future: Tensor
    y: Tensor


def window_arrays(past_inputs: np.ndarray, known: np.ndarray, targets: np.ndarray, origins: np.ndarray,
                  context: int, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack windows of one series: ``past_inputs`` (N, F) rows ``[t - context, t)``,
    ``known`` (N, K) rows ``[t, t + horizon)``, ``targets`` (N, n) rows ``[t, t + horizon)``."""
    back = origins[:, None] + np.arange(-context, 0)[None, :]
    ahead = origins[:, None] + np.arange(horizon)[None, :]
    return past_inputs[back], known[ahead], targets[ahead]


class WindowBatches(IndexedBatches):
    """Shuffled (or ordered) batches of windows drawn from several scaled series.

    ``series`` holds, per series, ``(inputs (N, F), known (N, K), targets (N, n))`` already
    scaled; ``index`` is an array of ``(series, origin)`` rows. Batches are built when
    asked for, so long series cost no copies of overlapping windows.
    """

    def __init__(self, series: list[tuple[np.ndarray, np.ndarray, np.ndarray]], index: np.ndarray, context: int,
                 horizon: int, batch_size: int, shuffle: bool = True, seed: int = 0) -> None:
        if len(index) == 0:
            raise DataError("no complete window (context + horizon) fits in this split")
        self.series, self.index = series, np.asarray(index, dtype=np.int64)
        self.context, self.horizon = context, horizon
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.n_items = len(self.index)

    def batch(self, idx: np.ndarray) -> WindowBatch:
        rows = self.index[idx]
        parts = []
        for s in np.unique(rows[:, 0]):
            mask = rows[:, 0] == s
            inputs, known, targets = self.series[s]
            parts.append((np.flatnonzero(mask), window_arrays(inputs, known, targets, rows[mask, 1], self.context,
                                                                self.horizon)))
        if len(parts) == 1:
            past, future, y = parts[0][1]
        else:  # keep the batch in the order asked for
            where = np.concatenate([p[0] for p in parts])
            inv = np.empty_like(where)
            inv[where] = np.arange(len(where))
            past, future, y = (np.concatenate([p[1][i] for p in parts])[inv] for i in range(3))
        return WindowBatch(torch.from_numpy(np.ascontiguousarray(past)),
                           torch.from_numpy(np.ascontiguousarray(future)), torch.from_numpy(np.ascontiguousarray(y)))


__all__ = ["SplitBounds", "split_bounds", "split_bounds_at", "window_origins", "Scaler", "SCALERS", "SPLITS",
           "WindowBatch", "WindowBatches", "window_arrays"]
