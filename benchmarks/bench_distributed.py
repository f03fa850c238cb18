"""Beyond one process: data-parallel training throughput, and what a short tuning study buys.

Usage:
    python benchmarks/bench_distributed.py                 # writes results/distributed.json
    python benchmarks/bench_distributed.py --part speed    # only the throughput table
    python benchmarks/bench_distributed.py --part tune     # only the tuning studies

1. Throughput: ``rnnkit lm train --preset char-rnn`` (Tiny Shakespeare) and ``--preset
   zaremba-small`` (PTB) for a fixed number of steps as 1 process with 2 threads, 1 process
   with 1 thread, and ``--nproc 2`` (2 processes with 1 thread each, the global batch split
   between them), in interleaved rounds (medians). Tokens per second are the training
   steps' own (metrics.jsonl), so process start-up and evaluation are not counted. The
   efficiency is the speed-up over one single-threaded process divided by the processes.
2. Tuning: ``rnnkit.tune`` on ETTh1 (target OT, horizon 24, the Informer split) and on the UCR
   set ECG200 (8 trials, hidden size 16-128 and one layer; ETTh1's of at most 5 epochs,
   ECG200's with the defaults' 50), then the best trial and the estimator's defaults (same
   split, same seed) scored once on the test split.

Data from ../shared/data (nothing is downloaded). Thread count and load average are
recorded; on 2 shared cores run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
CONFIGS = [("1 process x 2 threads", 1, 2), ("1 process x 1 thread", 1, 1), ("2 processes x 1 thread", 2, 1)]
#: the short studies' narrowing of the default spaces: models no larger than the defaults' size class
SHORT_SPACE = {"hidden_size": "16:128:log", "num_layers": 1}


def lm_args(preset: str) -> list[str]:
    if preset.startswith("zaremba"):
        root = SHARED / "ptb"
        return [str(root / "ptb.train.txt"), "--valid", str(root / "ptb.valid.txt"), "--test",
                str(root / "ptb.test.txt")]
    return [str(SHARED / "tinyshakespeare" / "input.txt")]


def throughput(preset: str, nproc: int, threads: int, steps: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "rnnkit", "lm", "train", *lm_args(preset), "--preset", preset, "--max-steps",
               str(steps), "--eval-max-tokens", "2000", "--checkpoint-every", "0", "--sample-every", "0", "--quiet",
               "--threads", str(threads), "--nproc", str(nproc), "--out", str(Path(tmp) / "run")]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        records = [json.loads(x) for x in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines() if x]
    return [r for r in records if r["kind"] == "train"][-1]["items_per_s"]


def speed_table(steps: int, rounds: int) -> list[dict]:
    rows = []
    for preset in ("char-rnn", "zaremba-small"):
        tps: dict[str, list[float]] = {name: [] for name, _, _ in CONFIGS}
        for _ in range(rounds):
            for name, nproc, threads in CONFIGS:
                tps[name].append(throughput(preset, nproc, threads, steps))
                print(preset, name, round(tps[name][-1]), flush=True)
        med = {k: statistics.median(v) for k, v in tps.items()}
        base = med["1 process x 1 thread"]
        two = med["2 processes x 1 thread"]
        rows.append({"preset": preset, "steps": steps, **{f"{k} tokens/s": round(v) for k, v in med.items()},
                     "speed-up over 1 x 1": round(two / base, 2), "efficiency": round(two / base / 2, 2),
                     "2 processes vs 1 x 2 threads": round(two / med["1 process x 2 threads"], 2), "runs": tps})
    return rows


def tune_forecast(trials: int, trial_epochs: int) -> dict:
    import pandas as pd

    import rnnkit
    from rnnkit.tasks.forecast import Forecaster

    df = pd.read_csv(SHARED / "ett" / "ETTh1.csv")
    fixed = dict(horizon=24, target=["OT"], time_col="date", split=(8640, 2880, 2880), seed=0, device="cpu")
    budget = {**fixed, "epochs": trial_epochs}  # each trial's epochs are capped (not its time: load-independent)

    def test_mse(est: Forecaster) -> dict:
        bt = est.backtest(df, "test")
        return {"mse": bt.scaled["model"]["mse"], "naive_mse": bt.scaled["naive"]["mse"]}

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = rnnkit.tune("forecast", (df,), trials=trials, out=Path(tmp) / "study", fixed=budget, test=test_mse,
                             seed=0, space=SHORT_SPACE)
        seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    default = test_mse(Forecaster(**fixed).fit(df))
    return {"dataset": "ETTh1 OT h=24 (test MSE, z-scored)", "trials": result.finished, "pruned": result.pruned,
            "study_seconds": round(seconds, 1), "best_params": result.estimator_params,
            "best_valid_loss": result.best_value, "best_test": result.test_scores, "default_test": default,
            "default_seconds": round(time.perf_counter() - t0, 1)}


def tune_ucr(trials: int, name: str = "ECG200") -> dict:
    import rnnkit
    from rnnkit.tasks.classify import RNNClassifier
    from rnnkit.tasks.io import read_labelled_file
    from rnnkit.tasks.tune import task_data

    root = SHARED / "ucr" / name
    data, scorer = task_data("classify", [root / f"{name}_TRAIN.tsv"], None, root / f"{name}_TEST.tsv")
    assert scorer is not None
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = rnnkit.tune("classify", data, trials=trials, out=Path(tmp) / "study", test=scorer, seed=0,
                             fixed={"device": "cpu"}, space=SHORT_SPACE)
        seconds = time.perf_counter() - t0
    train = read_labelled_file(root / f"{name}_TRAIN.tsv")
    t0 = time.perf_counter()
    default = scorer(RNNClassifier(device="cpu").fit(train.X, train.y))
    return {"dataset": f"UCR {name} (test accuracy)", "trials": result.finished, "pruned": result.pruned,
            "study_seconds": round(seconds, 1), "best_params": result.estimator_params,
            "best_valid_loss": result.best_value, "best_test": result.test_scores, "default_test": default,
            "default_seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["all", "speed", "tune"], default="all")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--trial-epochs", type=int, default=5, help="ETTh1: epochs per trial at most")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "distributed.json")
    args = ap.parse_args()
    result = json.loads(args.out.read_text()) if args.out.exists() else {}
    result.update({"machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                   "torch": torch.__version__, "load_average_before": os.getloadavg()})
    if args.part in ("all", "speed"):
        result["speed"] = speed_table(args.steps, args.rounds)
    if args.part in ("all", "tune"):
        result["tune"] = [tune_forecast(args.trials, args.trial_epochs), tune_ucr(args.trials)]
    result["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str))
    for r in result.get("speed", []):
        print(f"| {r['preset']} | {r['1 process x 2 threads tokens/s']} | {r['1 process x 1 thread tokens/s']} | "
              f"{r['2 processes x 1 thread tokens/s']} | {r['speed-up over 1 x 1']}x | {r['efficiency']} | "
              f"{r['2 processes vs 1 x 2 threads']}x |")
    for r in result.get("tune", []):
        print(f"| {r['dataset']} | {r['trials']} ({r['pruned']} pruned) | {r['study_seconds']} s | "
              f"{r['best_test']} | {r['default_test']} |")
    print(f"load average {result['load_average_before'][0]:.2f} -> {result['load_average_after'][0]:.2f}")


if __name__ == "__main__":
    main()
