"""Forecaster end to end on small series: no leaks, the baselines by hand, save/load, errors."""

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.errors import CheckpointError, DataError
from rnnkit.evaluation.forecasting import (
    baseline_forecasts,
    default_season,
    forecast_metrics,
    naive_forecast,
    seasonal_naive_forecast,
)
from rnnkit.tasks.forecast import Forecaster

# the network itself is under test here: served as it is (the guard has its own tests)
FAST = dict(epochs=2, hidden_size=8, batch_size=32, device="cpu", fallback="none")


def table(n=400, seed=0, period=24, trend=0.02, **extra):
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    y = 5 + trend * i + 2 * np.sin(2 * np.pi * i / period) + rng.normal(0, 0.1, n)
    df = pd.DataFrame({"date": pd.date_range("2022-01-01", periods=n, freq="h"), "y": y})
    for k, v in extra.items():
        df[k] = v
    return df


def test_baselines_by_hand():
    y = np.arange(30, dtype=np.float64)[:, None]
    origins = np.array([10, 20])
    assert naive_forecast(y, origins, 3)[:, :, 0].tolist() == [[9, 9, 9], [19, 19, 19]]
    # season 4: the last observed season (rows t-4 .. t-1) repeated
    assert seasonal_naive_forecast(y, origins, 6, 4)[0, :, 0].tolist() == [6, 7, 8, 9, 6, 7]
    assert baseline_forecasts(y, origins, 2, context=4, season=4)["mean"][:, 0, 0].tolist() == [7.5, 17.5]
    m = forecast_metrics(np.array([[1.0], [3.0]]), np.array([[2.0], [1.0]]), mase_scale=2.0)
    assert m == pytest.approx({"mse": 2.5, "mae": 1.5, "rmse": 2.5 ** 0.5, "smape": (200 / 3 + 100) / 2,
                               "mase": 0.75})
    assert default_season(pd.Timedelta("1h")) == 24 and default_season(pd.Timedelta("1D")) == 7
    assert default_season(pd.Timedelta("15min")) == 96


def test_test_rows_never_touch_training():
    """Changing every test row leaves the fitted scaler and weights bit-identical."""
    df = table()
    spoiled = df.copy()
    spoiled.loc[320:, "y"] = 1e6  # rows of the test split (0.7/0.1/0.2 of 400 -> test from row 320)
    a = Forecaster(horizon=6, context=24, **FAST).fit(df)
    b = Forecaster(horizon=6, context=24, **FAST).fit(spoiled)
    assert a.scalers_[""].to_dict() == b.scalers_[""].to_dict()
    for (k, va), vb in zip(a.model_.state_dict().items(), b.model_.state_dict().values()):
        assert torch.equal(va, vb), k
    # and the validation rows choose the epoch but never enter the scaler
    spoiled_valid = df.copy()
    spoiled_valid.loc[280:319, "y"] = 1e6
    c = Forecaster(horizon=6, context=24, **FAST).fit(spoiled_valid)
    assert c.scalers_[""].to_dict() == a.scalers_[""].to_dict()


def test_backtest_windows_and_baselines_match_by_hand():
    df = table()
    f = Forecaster(horizon=6, context=24, **FAST).fit(df)
    bt = f.backtest(df, "test")
    assert bt.windows == 80 - 6 + 1  # every origin in [320, 394]
    s = bt.series[0]
    assert s["times"][0] == df["date"][320] and s["times"][-1] == df["date"][394]
    y = df["y"].to_numpy()
    np.testing.assert_allclose(s["actual"][0, :, 0], y[320:326], rtol=1e-5)
    naive = np.repeat(y[319:394][:, None], 6, 1)
    expected = np.mean((naive - np.stack([y[t:t + 6] for t in range(320, 395)])) ** 2)
    assert bt.metrics["naive"]["mse"] == pytest.approx(expected, rel=1e-4)
    assert set(bt.metrics) == {"model", "naive", "seasonal_naive", "mean"}


def test_it_learns_to_beat_the_baselines():
    df = table(n=1200, trend=0.01)
    f = Forecaster(horizon=12, context=48, epochs=15, hidden_size=32, lr=3e-3, device="cpu").fit(df)
    bt = f.backtest(df)
    assert bt.interval is None  # point forecasts: no interval to check
    best = min(bt.metrics[k]["mse"] for k in ("naive", "seasonal_naive", "mean"))
    assert bt.metrics["model"]["mse"] < 0.8 * best, bt.metrics


@pytest.mark.parametrize("decoder, likelihood", [("autoregressive", "gaussian"), ("direct", "quantile")])
def test_predict_save_load(tmp_path, decoder, likelihood):
    df = table()
    f = Forecaster(horizon=5, context=16, decoder=decoder, likelihood=likelihood, **FAST).fit(df)
    out = f.predict(df)
    assert list(out.columns) == ["time", "y", "y_lower", "y_upper"] and len(out) == 5
    assert out["time"].iloc[0] == df["date"].iloc[-1] + pd.Timedelta("1h")
    assert (out["y_lower"] <= out["y"] + 1e-6).all() and (out["y"] <= out["y_upper"] + 1e-6).all()
    g = Forecaster.load(f.save(tmp_path / "f.safetensors"))
    pd.testing.assert_frame_equal(g.predict(df), out)
    assert g.get_params() == f.get_params()
    bt = f.backtest(df)
    assert g.backtest(df).metrics == bt.metrics
    # the backtest says how often the model's 80 % interval held the actual value, counted by hand
    inside = np.concatenate([((s["interval"][0] <= s["actual"]) & (s["actual"] <= s["interval"][1])).ravel()
                             for s in bt.series])
    assert bt.interval["level"] == pytest.approx(0.8) and bt.interval["coverage"] == inside.mean()
    assert bt.to_dict()["interval"]["width"] > 0


def test_many_series_and_covariates(tmp_path):
    parts = []
    for k, site in enumerate(["a", "b"]):
        d = table(n=300, seed=k)
        d["y"] += 10 * k
        d["site"], d["temp"], d["price"] = site, np.cos(np.arange(300) / 7), np.arange(300) % 5
        parts.append(d)
    df = pd.concat(parts).sample(frac=1.0, random_state=0)  # shuffled rows: sorted per series on reading
    f = Forecaster(horizon=4, context=12, id_col="site", target="y", past_covariates=("temp",),
                   known_covariates=("price",), **FAST).fit(df)
    assert set(f.scalers_) == {"a", "b"} and f.scalers_["b"].loc[0] > f.scalers_["a"].loc[0] + 5
    with pytest.raises(DataError, match="known-future covariates"):
        f.predict(df)
    future = pd.DataFrame({"site": ["a"] * 4 + ["b"] * 4, "price": [1, 2, 3, 4] * 2})
    out = f.predict(df, future)
    assert out["site"].tolist() == ["a"] * 4 + ["b"] * 4 and len(out) == 8
    bt = f.backtest(df)
    assert bt.windows == 2 * (60 - 4 + 1)


def test_user_errors():
    df = table(n=60)
    with pytest.raises(DataError, match="training rows; context \\+ horizon needs"):
        Forecaster(horizon=24, context=48, **FAST).fit(df)
    flat = table(n=200)
    flat["y"] = 3.0
    with pytest.raises(DataError, match="'y' is constant"):
        Forecaster(horizon=4, context=8, **FAST).fit(flat)
    Forecaster(horizon=4, context=8, scaler="none", **FAST).fit(flat)  # the explicit option
    with pytest.raises(RuntimeError, match="not fitted"):
        Forecaster().predict(df)
    f = Forecaster(horizon=4, context=8, **FAST).fit(table(n=200))
    with pytest.raises(DataError, match="has 5 rows"):
        f.predict(table(n=5))
    with pytest.raises(ValueError, match="invalid parameter"):
        Forecaster().set_params(horizn=3)
    assert repr(Forecaster(horizon=3)) == "Forecaster(horizon=3)"


def test_load_refuses_other_checkpoints(tmp_path):
    from rnnkit.tasks.classify import RNNClassifier

    clf = RNNClassifier(epochs=1, hidden_size=4, validation_fraction=0).fit(np.random.randn(6, 5, 1), [0, 1] * 3)
    with pytest.raises(CheckpointError, match="not a forecasting checkpoint"):
        Forecaster.load(clf.save(tmp_path / "c.safetensors"))


def test_warmup_and_whole_history():
    df = table(n=300)
    f = Forecaster(horizon=4, context=12, warmup=24, **FAST).fit(df)
    assert f.model_.config.norm_window == 12
    bt = f.backtest(df)
    assert bt.windows == 60 - 4 + 1  # test origins still start at row 240: 36 rows of reach fit before it
    torch.nn.init.normal_(f.model_.head.weight, std=0.5)  # make the state's effect visible after 2 epochs
    short, whole = f.predict(df), f.predict(df, history=True)
    assert len(short) == len(whole) == 4 and (short["y"] != whole["y"]).any()
    with pytest.raises(DataError, match="reads the last 36"):
        f.predict(table(n=30))
