"""rnnkit forecast train / predict / evaluate on real temporary files, and one-line errors."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app

runner = CliRunner()
FAST = ["--epochs", "2", "--hidden", "8", "--horizon", "6", "--context", "24", "--quiet", "--device", "cpu"]


@pytest.fixture
def pjm_like(tmp_path):
    """Day-first timestamps, rows out of order, one duplicated hour and one missing hour."""
    n = 400
    t = pd.date_range("2002-12-31 01:00", periods=n, freq="h")
    y = 30000 + 5000 * np.sin(2 * np.pi * np.arange(n) / 24) + np.random.default_rng(0).normal(0, 300, n)
    df = pd.DataFrame({"Datetime": t.strftime("%d-%m-%Y %H:%M"), "PJME_MW": y.round()})
    df = pd.concat([df.drop(index=100), df.iloc[[50]]]).sample(frac=1.0, random_state=1)
    path = tmp_path / "pjm.csv"
    df.to_csv(path, index=False)
    return path


def test_train_predict_evaluate(pjm_like, tmp_path):
    out = tmp_path / "run"
    base = ["forecast", "train", str(pjm_like), "--time-col", "Datetime", "--target", "PJME_MW", "--out", str(out)]
    r = runner.invoke(app, base + FAST)
    assert r.exit_code == 2 and "duplicated timestamp" in r.output and "--duplicates" in r.output
    r = runner.invoke(app, base + FAST + ["--duplicates", "mean"])
    assert r.exit_code == 2 and "1 missing timestamp(s) (gaps in the 1h grid)" in r.output
    r = runner.invoke(app, base + FAST + ["--duplicates", "mean", "--fill", "interpolate"])
    assert r.exit_code == 0, r.output
    assert "seasonal_naive" in r.output and "model MSE / best baseline" in r.output
    for name in ("model.safetensors", "best.safetensors", "test_report.json", "test_forecasts.png", "metrics.jsonl"):
        assert (out / name).exists(), name
    report = json.loads((out / "test_report.json").read_text())
    assert report["windows"] == 80 - 6 + 1
    assert set(report["metrics"]) - {"served"} == {"model", "naive", "seasonal_naive", "mean"}
    # the guard's verdict is printed and recorded; a served row exactly when it serves a baseline
    guard = report["guard"]
    assert f"guard: {guard['message']}" in " ".join(r.output.split())
    assert ("served" in report["metrics"]) == (guard["serving"] != "model")
    # a second run into the same folder is refused
    r = runner.invoke(app, base + FAST + ["--duplicates", "mean", "--fill", "interpolate"])
    assert r.exit_code == 2 and "already holds a training run" in r.output

    r = runner.invoke(app, ["forecast", "predict", str(out / "model.safetensors"), str(pjm_like),
                            "--output", str(tmp_path / "next.csv")])
    assert r.exit_code == 0, r.output
    pred = pd.read_csv(tmp_path / "next.csv")
    assert len(pred) == 6 and pred["time"].iloc[0] == "2003-01-16 17:00:00"  # the hour after the last row
    r = runner.invoke(app, ["forecast", "evaluate", str(out / "model.safetensors"), str(pjm_like), "--split", "valid",
                            "--out", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "ev" / "valid_report.json").read_text())["split"] == "valid"


def test_resume_continues_the_run(pjm_like, tmp_path):
    out = tmp_path / "run"
    args = ["forecast", "train", str(pjm_like), "--dayfirst", "--duplicates", "last", "--fill", "ffill",
            "--out", str(out), *FAST, "--early-stopping", "0"]
    assert runner.invoke(app, args).exit_code == 0
    r = runner.invoke(app, [*args[:-len(FAST) - 2], *FAST, "--early-stopping", "0", "--epochs", "3", "--resume"])
    assert r.exit_code == 0, r.output
    epochs = [json.loads(x)["epoch"] for x in (out / "metrics.jsonl").read_text().splitlines()
              if json.loads(x).get("kind") == "valid"]
    assert epochs == [1, 2, 3]


def test_bad_input_is_one_line(tmp_path):
    (tmp_path / "text.csv").write_text("date,y\n2021-01-01,1\n2021-01-02,a\n2021-01-03,3\n")
    (tmp_path / "nan.csv").write_text("date,y\n2021-01-01,\n2021-01-02,\n2021-01-03,\n")
    (tmp_path / "short.csv").write_text("date,y\n" + "".join(f"2021-01-{d:02d},{d % 3}\n" for d in range(1, 20)))
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    cases = [
        (["forecast", "train", str(tmp_path / "missing.csv")], "no such file"),
        (["forecast", "train", str(tmp_path / "text.csv")], "no numeric column to forecast (columns: y)"),
        (["forecast", "train", str(tmp_path / "text.csv"), "--target", "y"], "column 'y' is not numeric: 1 value"),
        (["forecast", "train", str(tmp_path / "nan.csv"), "--fill", "interpolate"], "no values at all"),
        (["forecast", "train", str(tmp_path / "short.csv"), "--out", str(tmp_path / "r")], "context + horizon needs"),
        (["forecast", "train", str(tmp_path / "short.csv"), "--split", "0.7,0.3"], "three numbers"),
        (["forecast", "train", str(tmp_path / "short.csv"), "--decoder", "seq2seq", "--horizon", "2", "--context",
          "3", "--out", str(tmp_path / "r2")], "decoder must be one of"),
        (["forecast", "predict", str(tmp_path / "bad.safetensors"), str(tmp_path / "short.csv")], "error:"),
    ]
    for args, needle in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output, (args, r.output)
        assert "Traceback" not in r.output
    r = runner.invoke(app, ["forecast", "train", str(tmp_path / "short.csv"), "--no-such-option"])
    assert r.exit_code == 2 and "No such option" in r.output


@pytest.mark.slow
def test_cli_on_etth1_and_pjm(shared_data, tmp_path):
    ett = shared_data / "ett" / "ETTh1.csv"
    pjm = shared_data / "pjm-hourly-energy" / "PJME_hourly.csv"
    if not ett.exists() or not pjm.exists():
        pytest.skip("ETTh1.csv or PJME_hourly.csv is not under ../shared/data")
    r = runner.invoke(app, ["forecast", "train", str(ett), "--time-col", "date", "--target", "OT", "--horizon", "24",
                            "--split", "8640,2880,2880", "--epochs", "2", "--quiet", "--device", "cpu",
                            "--out", str(tmp_path / "ett")])
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "ett" / "test_report.json").read_text())
    assert report["windows"] == 2880 - 24 + 1
    assert report["scaled"]["naive"]["mse"] == pytest.approx(0.0343, abs=5e-4)  # the reference figure
    assert report["scaled"]["model"]["mse"] < report["scaled"]["naive"]["mse"]
    r = runner.invoke(app, ["forecast", "train", str(pjm), "--quiet", "--out", str(tmp_path / "pjm")])
    assert r.exit_code == 2 and "4 duplicated timestamp(s)" in r.output
    r = runner.invoke(app, ["forecast", "train", str(pjm), "--duplicates", "mean", "--fill", "interpolate", "--quiet",
                            "--epochs", "1", "--max-time", "30", "--device", "cpu", "--out", str(tmp_path / "pjm")])
    assert r.exit_code == 0, r.output
    assert "30 missing timestamp(s)" in r.output
    r = runner.invoke(app, ["forecast", "predict", str(tmp_path / "pjm" / "model.safetensors"), str(pjm),
                            "--output", str(tmp_path / "next.csv")])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(tmp_path / "next.csv")["time"].iloc[0] == "2018-08-03 01:00:00"


def test_run_report_shows_the_backtest(pjm_like, tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(app, ["forecast", "train", str(pjm_like), "--dayfirst", "--duplicates", "mean", "--fill",
                            "interpolate", "--likelihood", "gaussian", "--out", str(out), *FAST])
    assert r.exit_code == 0, r.output
    assert "the model's 80% prediction interval covers" in " ".join(r.output.split())
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0
    page = (out / "report.html").read_text()
    for needle in ("ForecastNet", "metrics / seasonal_naive / mse", "test forecasts", "data:image/png;base64,"):
        assert needle in page, needle


def test_multi_target_backtest_per_target_one_scale_and_season(tmp_path):
    n = 400
    t = pd.date_range("2020-01-01", periods=n, freq="h")
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"time": t, "big": 1e5 + 1e4 * np.sin(2 * np.pi * np.arange(n) / 24) + rng.normal(0, 500, n),
                       "small": 1 + 0.1 * np.cos(2 * np.pi * np.arange(n) / 24) + rng.normal(0, 0.01, n)})
    path = tmp_path / "two.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "run"
    r = runner.invoke(app, ["forecast", "train", str(path), "--time-col", "time", "--target", "big,small",
                            "--out", str(out), *FAST], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "seasonal period 24" in text and "big (original units)" in text and "small (original units)" in text
    assert "model MSE / best baseline (" in text and "scaled =" in text
    assert "seasonal_naive" in r.output and "seasonal_n…" not in r.output  # names whole at 80 columns
    report = json.loads((out / "test_report.json").read_text())
    assert set(report["per_target"]) == {"big", "small"} and report["season"] == 24


def test_help_wraps_on_a_narrow_terminal():
    import os
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "rnnkit", "classify", "train", "--help"], capture_output=True,
                         text=True, env={**os.environ, "COLUMNS": "80"})
    assert run.returncode == 0 and "--validation-fraction" in run.stdout and "…" not in run.stdout


def test_a_model_that_loses_to_a_baseline_says_so(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=300, freq="D"),
                       "price": 100 + np.cumsum(rng.normal(0, 1, 300))})
    df.to_csv(tmp_path / "walk.csv", index=False)
    out = tmp_path / "run"
    args = ["forecast", "train", str(tmp_path / "walk.csv"), "--horizon", "4", "--context", "16", "--epochs", "1",
            "--lr", "1e-6", "--no-instance-norm", "--hidden", "4", "--out", str(out), "-q"]
    r = runner.invoke(app, [*args, "--fallback", "worst"])
    assert r.exit_code == 2 and "unknown fallback 'worst'" in r.output
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "the model does not beat" in text and "--fallback baseline" in text and "served (" in text
    guard = json.loads((out / "test_report.json").read_text())["guard"]
    assert guard["model_wins"] is False and guard["serving"] == guard["best_baseline"]
    r = runner.invoke(app, ["forecast", "predict", str(out / "model.safetensors"), str(tmp_path / "walk.csv"),
                            "--output", str(tmp_path / "next.csv")])
    assert r.exit_code == 0 and "note: validation" in " ".join(r.output.split())
