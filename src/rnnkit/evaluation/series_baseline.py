"""The nearest-neighbour baseline a time-series classifier must beat.

One-nearest-neighbour with the Euclidean distance (1-NN ED) is the reference classifier of the
UCR archive (Dau et al. 2019 list it beside DTW for every data set): each test series takes the
label of the closest training series. Scaling follows the classifier's ``znorm="auto"``: a
univariate series is z-normalised on its own (mean 0, standard deviation 1; a constant one is
only centred), so the distance compares shapes, as the archive's own z-normalised files do;
the channels of multivariate series are standardised with training-set statistics, which
keeps the levels that tell e.g. speakers apart. Series of different lengths are linearly
resampled to the longest training length. The distance between test series ``a`` and training
series ``b`` (flattened, ``T * C`` values) is ``||a||^2 + ||b||^2 - 2 a.b``, computed for blocks of
test series, so the distances take ``block * n_train`` floats at a time. No parameters, no training: a network
that does not beat it has learnt less than the training set's own closest examples tell.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

NAME = "1-NN Euclidean"
BLOCK = 256  # test series per distance block
#: multiply-adds the distances may take (about a minute of one core); beyond, a random subset
#: of the training series is searched, and the result says how many
MAX_WORK = 2e10


def _resample(series: np.ndarray, length: int) -> np.ndarray:
    """``(T, C)`` -> ``(length, C)`` by linear interpolation over the same span of time."""
    if len(series) == length:
        return series
    if len(series) == 1:
        return np.repeat(series, length, axis=0)
    old = np.linspace(0.0, 1.0, len(series))
    new = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(new, old, series[:, c]) for c in range(series.shape[1])], axis=1)


def _standardised(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return (x - mean) / np.where(std > 1e-8, std, 1.0)


def _prepared(series: Sequence[np.ndarray], length: int, per_series: bool) -> np.ndarray:
    """``(N, length, C)`` float64: each series resampled, and z-normalised on its own when
    ``per_series``."""
    rows = []
    for s in series:
        x = np.asarray(s, dtype=np.float64)
        x = _resample(x.reshape(len(x), -1), length)
        rows.append(_standardised(x, x.mean(axis=0), x.std(axis=0)) if per_series else x)
    return np.stack(rows)


def nearest_neighbour_baseline(train_series: Sequence[np.ndarray], train_labels: Sequence[Any],
                               test_series: Sequence[np.ndarray], test_labels: Sequence[Any]) -> dict[str, Any]:
    """``{"name", "accuracy", "n", "train_used", "seconds"}`` of 1-NN ED on the test series
    (``(T, C)`` arrays); ties between equally near training series go to the first in training
    order. When the distances would exceed :data:`MAX_WORK` multiply-adds, a random subset of the
    training series (seed 0) is searched; ``train_used`` says how many."""
    t0 = time.perf_counter()
    length = max(len(s) for s in train_series)
    channels = np.asarray(train_series[0]).reshape(len(train_series[0]), -1).shape[1]
    per_series = channels == 1  # the classifier's znorm="auto"
    total = len(train_series)
    budget = max(1, int(MAX_WORK // max(1, len(test_series) * length * channels)))
    if budget < total:
        pick = np.sort(np.random.default_rng(0).choice(total, budget, replace=False))
        train_series, train_labels = [train_series[i] for i in pick], [train_labels[i] for i in pick]
    train = _prepared(train_series, length, per_series)
    test = _prepared(test_series, length, per_series)
    if not per_series:  # channels standardised with the training set's statistics
        mean, std = train.mean(axis=(0, 1)), train.std(axis=(0, 1))
        train, test = _standardised(train, mean, std), _standardised(test, mean, std)
    train, test = train.reshape(len(train), -1), test.reshape(len(test), -1)
    y_train = np.asarray([str(v) for v in train_labels])
    y_test = np.asarray([str(v) for v in test_labels])
    train_sq = np.einsum("ij,ij->i", train, train)
    nearest = np.empty(len(test), dtype=np.int64)
    for start in range(0, len(test), BLOCK):
        block = test[start:start + BLOCK]
        # ||a||^2 is the same for every candidate of a row: the argmin needs ||b||^2 - 2 a.b only
        nearest[start:start + BLOCK] = np.argmin(train_sq[None, :] - 2.0 * block @ train.T, axis=1)
    pred = y_train[nearest]
    scaling = "z-normalised series" if per_series else "channels standardised on the training set"
    subset = f", {len(train):,} of the {total:,} training series, drawn at random" if len(train) < total else ""
    return {"name": f"{NAME} ({scaling}{subset})", "accuracy": float(np.mean(pred == y_test)),
            "n": int(len(y_test)), "train_used": int(len(train)), "seconds": round(time.perf_counter() - t0, 2)}


__all__ = ["nearest_neighbour_baseline", "NAME"]
