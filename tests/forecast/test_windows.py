"""Splits, windows and scalers on a series whose value is its row number: leaks are visible."""

import numpy as np
import pytest
import torch

from rnnkit.data.windows import (
    Scaler,
    SplitBounds,
    WindowBatches,
    split_bounds,
    split_bounds_at,
    window_arrays,
    window_origins,
)
from rnnkit.errors import ConfigError, DataError


def test_split_bounds_fractions_and_counts():
    assert split_bounds(100, (0.7, 0.1, 0.2)) == SplitBounds(70, 80, 100)
    assert split_bounds(17420, (8640, 2880, 2880)) == SplitBounds(8640, 11520, 14400)  # ETT's standard split
    assert split_bounds(100, (0.5, 0.0, 0.25)) == SplitBounds(50, 50, 75)
    with pytest.raises(ConfigError, match="add up to"):
        split_bounds(100, (0.7, 0.3, 0.2))
    with pytest.raises(DataError, match="asks for 120 rows"):
        split_bounds(100, (80, 20, 20))


def test_split_by_dates():
    import pandas as pd

    times = pd.date_range("2020-01-01", periods=10, freq="D")
    assert split_bounds_at(times, "2020-01-06", "2020-01-08") == SplitBounds(5, 7, 10)
    with pytest.raises(ConfigError, match="out of order"):
        split_bounds_at(times, "2020-01-08", "2020-01-06")


@pytest.mark.parametrize("context, horizon, stride", [(5, 3, 1), (1, 1, 1), (12, 7, 2)])
def test_no_window_target_reaches_into_a_later_split(context, horizon, stride):
    n = 60
    y = np.arange(n, dtype=np.float32)[:, None]  # value == row
    bounds = split_bounds(n, (0.5, 0.2, 0.3))
    for split in ("train", "valid", "test"):
        lo, hi = bounds.rows(split)
        origins = window_origins(bounds, split, context, horizon, stride)
        past, _, target = window_arrays(y, np.zeros((n, 0), np.float32), y, origins, context, horizon)
        assert len(origins) > 0
        assert target.min() >= lo and target.max() < hi  # every target row inside its split
        assert (past[:, :, 0] < origins[:, None]).all() and (past[:, -1, 0] == origins - 1).all()  # ends at t-1
        assert (target[:, 0, 0] == origins).all() and past.min() >= 0
        # every origin that fits is used (stride 1): the first and the last possible ones
        if stride == 1:
            assert origins[0] == max(lo, context) and origins[-1] == hi - horizon


def test_scaler_is_fitted_on_training_rows_only():
    y = np.arange(100, dtype=np.float64)[:, None]
    bounds = split_bounds(100, (0.6, 0.2, 0.2))
    sc = Scaler("standard").fit(y[:bounds.train_end])
    assert sc.loc[0] == pytest.approx(29.5) and sc.scale[0] == pytest.approx(np.arange(60).std())
    np.testing.assert_allclose(sc.inverse(sc.transform(y)), y, rtol=1e-5, atol=1e-4)
    mm = Scaler("minmax").fit(y[:60])
    assert mm.transform(y)[59, 0] == pytest.approx(1.0) and mm.transform(y)[99, 0] > 1  # test rows not seen
    with pytest.raises(DataError, match="'flat' is constant"):
        Scaler("standard").fit(np.ones((5, 1)), ["flat"])
    assert Scaler("none").fit(np.ones((5, 1))).transform(np.ones((2, 1))).tolist() == [[1.0], [1.0]]
    assert Scaler.from_dict(sc.to_dict()).transform(y).tolist() == sc.transform(y).tolist()


def test_window_batches_across_series_keep_the_asked_order():
    a = np.arange(20, dtype=np.float32)[:, None]
    b = 100 + np.arange(20, dtype=np.float32)[:, None]
    k = np.zeros((20, 1), np.float32)
    index = np.array([[1, 5], [0, 4], [1, 9], [0, 10]])
    wb = WindowBatches([(a, k, a), (b, k, b)], index, context=3, horizon=2, batch_size=4, shuffle=False)
    batch = next(iter(wb.for_epoch(0)))
    assert batch.past.shape == (4, 3, 1) and batch.future.shape == (4, 2, 1) and batch.y.shape == (4, 2, 1)
    assert batch.y[:, 0, 0].tolist() == [105, 4, 109, 10]
    assert batch.past[:, -1, 0].tolist() == [104, 3, 108, 9]
    shuffled = WindowBatches([(a, k, a), (b, k, b)], index, 3, 2, batch_size=2, shuffle=True, seed=1)
    assert len(shuffled) == 2 and shuffled.order(0).tolist() == shuffled.order(0).tolist()
    assert sorted(torch.cat([bt.y[:, 0, 0] for bt in shuffled.for_epoch(3)]).tolist()) == [4, 10, 105, 109]
    with pytest.raises(DataError, match="no complete window"):
        WindowBatches([(a, k, a)], np.zeros((0, 2), np.int64), 3, 2, 4)
