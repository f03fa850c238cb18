"""The baseline guard: a model that loses to a baseline on validation is reported, and what
``fallback`` says is served by predict, backtests, streams and saved models alike."""

import json

import numpy as np
import pandas as pd
import pytest

from rnnkit.errors import ConfigError
from rnnkit.tasks.forecast import Forecaster
from rnnkit.tasks.forecast_guard import BaselineGuard, convex_weight

# barely trained (lr 1e-6, no instance norm, no linear shortcut): it must lose to naive
UNTRAINED = dict(horizon=4, context=16, epochs=1, lr=1e-6, hidden_size=4, batch_size=64, instance_norm=False,
                 highway=False, device="cpu")


def random_walk(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = 100 + np.cumsum(rng.normal(0, 1, n))
    return pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D"), "price": y})


# ---------------------------------------------------------------------------- the decision
def test_decide_serve_and_round_trip():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 3, 1))
    good, bad = y + rng.normal(0, 0.1, y.shape), y + rng.normal(0, 1.0, y.shape)
    naive = y + rng.normal(0, 0.5, y.shape)
    mean = y + rng.normal(0, 2.0, y.shape)
    wins = BaselineGuard.decide("baseline", y, good, {"naive": naive, "mean": mean})
    assert wins.model_wins and wins.serving == "model" and wins.best_baseline == "naive"
    assert wins.serve(good, {"naive": naive, "mean": mean}) is good
    assert "beats every baseline" in wins.message()

    loses = BaselineGuard.decide("baseline", y, bad, {"naive": naive, "mean": mean})
    assert not loses.model_wins and loses.serving == "naive" and loses.weight == 0.0
    np.testing.assert_array_equal(loses.serve(bad, {"naive": naive, "mean": mean}), naive)
    assert "does not beat naive" in loses.message() and "serving the naive" in loses.message()

    mix = BaselineGuard.decide("ensemble", y, bad, {"naive": naive, "mean": mean})
    served = mix.serve(bad, {"naive": naive, "mean": mean})
    assert mix.serving == "ensemble" and 0 < mix.weight < 0.5
    assert np.mean((served - y) ** 2) == pytest.approx(mix.ensemble_mse)
    assert mix.ensemble_mse <= min(mix.mse["model"], mix.mse["naive"])

    anyway = BaselineGuard.decide("none", y, bad, {"naive": naive})
    assert anyway.serving == "model" and "WARNING" in anyway.message()
    for g in (wins, loses, mix, anyway):
        again = BaselineGuard.from_dict(json.loads(json.dumps(g.to_dict())))
        assert again == g


def test_convex_weight_is_the_least_squares_mix():
    rng = np.random.default_rng(1)
    y, m, b = rng.normal(size=(3, 200))
    w = convex_weight(y, m, b)
    grid = np.linspace(0, 1, 1001)
    best = grid[np.argmin([np.mean((g * m + (1 - g) * b - y) ** 2) for g in grid])]
    assert w == pytest.approx(best, abs=1e-3)
    assert convex_weight(y, b, b) == 1.0  # identical forecasts: nothing to weigh


# ---------------------------------------------------------------------------- end to end
def test_a_losing_model_serves_the_baseline_everywhere(tmp_path):
    df = random_walk()
    f = Forecaster(**UNTRAINED).fit(df)
    g = f.guard_
    assert g is not None and not g.model_wins and g.serving == g.best_baseline
    last = df["price"].iloc[-1]
    pred = f.predict(df)
    if g.best_baseline == "naive":
        np.testing.assert_allclose(pred["price"], last, rtol=1e-5)
    bt = f.backtest(df)
    assert bt.metrics["served"]["mse"] == pytest.approx(bt.metrics[g.best_baseline]["mse"])
    assert bt.guard["serving"] == g.best_baseline and f.score(df) == pytest.approx(-bt.metrics["served"]["mse"])
    # the stream, fed the same rows, serves the same forecast
    stream = f.stream()
    for t, v in zip(df["date"], df["price"]):
        stream.update({"price": v}, t)
    np.testing.assert_allclose(stream.forecast()["price"], pred["price"], rtol=1e-5)
    # a saved and reloaded forecaster keeps the verdict
    f.save(tmp_path / "f.safetensors")
    again = Forecaster.load(tmp_path / "f.safetensors")
    assert again.guard_ == g
    np.testing.assert_allclose(again.predict(df)["price"], pred["price"], rtol=1e-6)


def test_fallback_none_and_ensemble():
    df = random_walk()
    none = Forecaster(**UNTRAINED, fallback="none").fit(df)
    assert none.guard_.serving == "model" and "served" not in none.backtest(df).metrics
    mix = Forecaster(**UNTRAINED, fallback="ensemble").fit(df)
    assert mix.guard_.serving == "ensemble"
    bt = mix.backtest(df, "valid")  # on validation the mix is never worse than either part
    best = mix.guard_.best_baseline
    assert bt.scaled["served"]["mse"] <= min(bt.scaled["model"]["mse"], bt.scaled[best]["mse"]) + 1e-9
    # the served mix is the weight times the network's forecast plus the rest times the baseline's
    baseline = Forecaster(**UNTRAINED).fit(df)  # the same network, serving the baseline
    w = mix.guard_.weight
    np.testing.assert_allclose(mix.predict(df)["price"],
                               w * none.predict(df)["price"] + (1 - w) * baseline.predict(df)["price"], rtol=1e-5)


def test_unknown_fallback_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown fallback 'best'"):
        Forecaster(fallback="best").check_params()
