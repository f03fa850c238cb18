"""The nearest-neighbour baseline a time-series classifier must beat.

One-nearest-neighbour with the Euclidean distance (1-NN ED) is the reference classifier of the
UCR archive (Dau et al. 2019 list it beside DTW for every data set): each test series takes the
label of the closest training series. Here every series is first z-normalised per channel
(mean 0, standard deviation 1; a constant channel is only centred), so the distance compares
shapes, as the archive's own z-normalised files do; series of different lengths are linearly
resampled to the longest training length. The distance between test series ``a`` and training
series ``b`` (flattened, ``T * C`` values) is ``||a||^2 + ||b||^2 - 2 a.b``, computed in blocks of
test series so memory stays at ``block * n_train`` floats. No parameters, no training: a network
that does not beat it has learnt less than the training set's own closest examples tell.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

NAME = "1-NN Euclidean (z-normalised series)"
BLOCK = 256  # test series per distance block


def _resample(series: np.ndarray, length: int) -> np.ndarray:
    """``(T, C)`` -> ``(length, C)`` by linear interpolation over the same span of time."""
    if len(series) == length:
        return series
    if len(series) == 1:
        return np.repeat(series, length, axis=0)
    old = np.linspace(0.0, 1.0, len(series))
    new = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(new, old, series[:, c]) for c in range(series.shape[1])], axis=1)


def _prepared(series: Sequence[np.ndarray], length: int) -> np.ndarray:
    """``(N, length * C)`` float64: each series resampled, z-normalised per channel, flattened."""
    rows = []
    for s in series:
        x = np.asarray(s, dtype=np.float64)
        x = _resample(x.reshape(len(x), -1), length)
        std = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(std > 1e-8, std, 1.0)
        rows.append(x.reshape(-1))
    return np.stack(rows)


def nearest_neighbour_baseline(train_series: Sequence[np.ndarray], train_labels: Sequence[Any],
                               test_series: Sequence[np.ndarray], test_labels: Sequence[Any]) -> dict[str, Any]:
    """``{"name", "accuracy", "n", "seconds"}`` of 1-NN ED on the test series (``(T, C)`` arrays);
    ties between equally near training series go to the first in training order."""
    t0 = time.perf_counter()
    length = max(len(s) for s in train_series)
    train = _prepared(train_series, length)
    test = _prepared(test_series, length)
    y_train = np.asarray([str(v) for v in train_labels])
    y_test = np.asarray([str(v) for v in test_labels])
    train_sq = np.einsum("ij,ij->i", train, train)
    nearest = np.empty(len(test), dtype=np.int64)
    for start in range(0, len(test), BLOCK):
        block = test[start:start + BLOCK]
        # ||a||^2 is the same for every candidate of a row: the argmin needs ||b||^2 - 2 a.b only
        nearest[start:start + BLOCK] = np.argmin(train_sq[None, :] - 2.0 * block @ train.T, axis=1)
    pred = y_train[nearest]
    return {"name": NAME, "accuracy": float(np.mean(pred == y_test)), "n": int(len(y_test)),
            "seconds": round(time.perf_counter() - t0, 2)}


__all__ = ["nearest_neighbour_baseline", "NAME"]
