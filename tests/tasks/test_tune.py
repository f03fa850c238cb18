"""``rnnkit tune`` / ``rnnkit.tune``: search-space parsing, a study end to end with the command
that reproduces its best trial, two processes sharing one SQLite study, and a study that
continues after it stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

import rnnkit  # noqa: E402
from rnnkit.errors import ConfigError  # noqa: E402
from rnnkit.tasks.tune import Dim, build_space, parse_dim, read_space_file  # noqa: E402


def test_search_space_specs():
    assert parse_dim("32:256:log") == Dim("int", 32, 256, True)
    assert parse_dim("1e-4:1e-2:log") == Dim("float", 1e-4, 1e-2, True)
    assert parse_dim("0:0.5") == Dim("float", 0, 0.5, False)
    assert parse_dim("lstm,gru") == Dim("choice", choices=("lstm", "gru"))
    assert parse_dim("2") == 2 and parse_dim("-") is None and parse_dim("true") is True
    for bad in ("5:1", "0:1:log", "a:b", "1:2:3"):
        with pytest.raises(ConfigError):
            parse_dim(bad)
    searched, fixed = build_space("classify", {"dropout": None, "num_layers": 2, "hidden_size": parse_dim("8:16")})
    assert "dropout" not in searched and fixed == {"num_layers": 2} and searched["hidden_size"] == Dim("int", 8, 16)


def test_space_files(tmp_path):
    (tmp_path / "s.yaml").write_text("hidden_size: 8:64:log\ncell: [lstm, gru]\n"
                                     "lr: {low: 0.001, high: 0.01, log: true}\nnum_layers: 1\n", encoding="utf-8")
    space = read_space_file(tmp_path / "s.yaml")
    assert space == {"hidden_size": Dim("int", 8, 64, True), "cell": Dim("choice", choices=("lstm", "gru")),
                     "lr": Dim("float", 0.001, 0.01, True), "num_layers": 1}
    (tmp_path / "s.json").write_text(json.dumps({"dropout": "0:0.3"}), encoding="utf-8")
    assert read_space_file(tmp_path / "s.json") == {"dropout": Dim("float", 0, 0.3)}
    (tmp_path / "bad.yaml").write_text("a: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_space_file(tmp_path / "bad.yaml")


def write_series(path: Path, n: int = 60, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for i in range(n):
            c = i % 2
            x = np.sin(np.linspace(0, 2 + 3 * c, 16)) + 0.3 * rng.normal(size=16)
            f.write(f"{c}\t" + "\t".join(f"{v:.3f}" for v in x) + "\n")
    return path


def rnnkit_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "rnnkit", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


def valid_losses(run_dir: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()
            if x.strip() and json.loads(x)["kind"] == "valid"]


def test_a_study_prints_its_best_trial_and_a_command_that_reproduces_it(tmp_path):
    write_series(tmp_path / "train.tsv")
    write_series(tmp_path / "test.tsv", 20, seed=1)
    r = rnnkit_cli("tune", "classify", "train.tsv", "--test", "test.tsv", "--trials", "3", "--set", "epochs=2",
                   "--space", "hidden_size=4:12", "--space", "num_layers=1", "--seed", "0", "--out", "study",
                   "--quiet", "--threads", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    assert "3 finished trials" in out and "best trial: validation loss" in out and "test: accuracy" in out
    # beside the test score, the 1-NN baseline that classify train prints, and which of them wins
    assert "baseline_accuracy" in out and "the baseline on test accuracy" in out
    assert (tmp_path / "study" / "history.png").exists() and (tmp_path / "study" / "study.sqlite").exists()
    command = out.split("reproduce with:")[1].strip().splitlines()[0].split()
    assert command[:3] == ["rnnkit", "classify", "train"] and "--layers" in command and "--hidden" in command
    best_dir = Path(out.split("model: ")[1].split()[0]).parent
    r2 = rnnkit_cli(*command[1:], "--out", "again", "--quiet", "--threads", "1", cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert np.allclose(valid_losses(best_dir), valid_losses(tmp_path / "again"), atol=1e-6)


def test_two_processes_share_one_study_without_duplicates_and_it_continues(tmp_path):
    write_series(tmp_path / "train.tsv")
    db = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    args = ["tune", "classify", "train.tsv", "--trials", "6", "--set", "epochs=1", "--space", "hidden_size=4:8",
            "--storage", db, "--study", "shared", "--quiet", "--threads", "1", "--no-prune"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "rnnkit", *args, "--out", f"p{i}"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    study = optuna.load_study(study_name="shared", storage=db)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 6
    assert len({t.number for t in done}) == 6 and len({t.user_attrs["run_dir"] for t in done}) == 6
    # a study stopped short continues where it stopped: 6 done, 8 asked for -> 2 more trials
    r = rnnkit_cli(*args, "--trials", "8", "--out", "p0", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    study = optuna.load_study(study_name="shared", storage=db)
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 8


def test_python_api_tunes_a_forecaster(tmp_path):
    import pandas as pd

    t = np.arange(400)
    df = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=t.size, freq="h"),
                       "y": np.sin(2 * np.pi * t / 24) + 0.1 * np.random.default_rng(0).normal(size=t.size)})
    from rnnkit.tasks.tune import task_data

    df.to_csv(tmp_path / "s.csv", index=False)
    data, scorer = task_data("forecast", [tmp_path / "s.csv"], fixed={"horizon": 6, "time_col": "time"})
    result = rnnkit.tune("forecast", data, trials=2, out=tmp_path / "study", test=scorer, seed=0,
                         space={"hidden_size": "4:8", "num_layers": 1, "cell": "gru"},
                         fixed={"horizon": 6, "time_col": "time", "epochs": 2})
    assert result.finished == 2 and result.estimator_params["context"] % 6 == 0
    assert {"mse", "naive_mse", "mse_vs_naive"} <= set(result.test_scores)
    with pytest.raises(ConfigError, match="has no parameter"):
        rnnkit.tune("forecast", data, trials=1, out=tmp_path / "s2", fixed={"hidden": 3})


def test_every_task_tunes_on_its_files(tmp_path):
    """tag (CoNLL), lm (text) and music (a JSB .json) through the same task_data -> tune path."""
    from rnnkit.tasks.tune import task_data

    conll = "".join(f"the\tDET\n{w}\tNOUN\nruns\tVERB\n\n" for w in ["dog", "cat", "fox", "hen"] * 6)
    (tmp_path / "t.conll").write_text(conll, encoding="utf-8")
    (tmp_path / "c.txt").write_text("\n".join(f"a b c {i % 5} d e" for i in range(300)) + "\n", encoding="utf-8")
    chords = [[[60, 64, 67], [62, 65, 69], [64, 67, 71], [65, 69, 72]] * 4] * 3
    (tmp_path / "m.json").write_text(json.dumps({"train": chords, "valid": chords[:1], "test": chords[:1]}))
    cases = {"tag": ([tmp_path / "t.conll"], None, tmp_path / "t.conll", {"epochs": 1}),
             "lm": ([tmp_path / "c.txt"], None, tmp_path / "c.txt", {"epochs": 1, "batch_size": 4, "bptt": 8}),
             "music": ([tmp_path / "m.json"], None, None, {"epochs": 1})}
    for task, (train, valid, test, fixed) in cases.items():
        data, scorer = task_data(task, train, valid, test, fixed)
        result = rnnkit.tune(task, data, trials=1, out=tmp_path / task, test=scorer, seed=0, fixed=fixed,
                             space={"hidden_size": "4:8", "num_layers": 1})
        assert result.finished == 1 and (result.best_run_dir / "model.safetensors").exists()
        assert result.test_scores or scorer is None
        baseline = {"tag": "baseline_accuracy", "lm": "baseline_loss", "music": "baseline_nll"}[task]
        assert baseline in result.test_scores  # each beside its baseline: word tags, unigram, Markov keys
    assert "nll" in result.test_scores  # music scores its test split


@pytest.mark.skipif(not os.environ.get("RNNKIT_TEST_POSTGRES_URL"),
                    reason="set RNNKIT_TEST_POSTGRES_URL=postgresql+psycopg://user@host:port/db to run")
def test_a_study_in_postgresql(tmp_path):
    write_series(tmp_path / "train.tsv")
    url = os.environ["RNNKIT_TEST_POSTGRES_URL"]
    name = f"rnnkit-test-{os.getpid()}"
    args = ["tune", "classify", "train.tsv", "--trials", "2", "--set", "epochs=1", "--space", "hidden_size=4:8",
            "--storage", url, "--study", name, "--quiet", "--out", "pg"]
    r = rnnkit_cli(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    study = optuna.load_study(study_name=name, storage=url)
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 2
    optuna.delete_study(study_name=name, storage=url)


def test_a_search_whose_every_trial_fails_stops_with_the_error(tmp_path):
    (tmp_path / "c.txt").write_text("\n".join(f"a b {i % 3}" for i in range(50)) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="3 trials in a row failed; the last: .*too few"):
        rnnkit.tune("lm", ([str(tmp_path / "c.txt")], None, None), trials=10, out=tmp_path / "s",
                    fixed={"batch_size": 100_000, "epochs": 1})
