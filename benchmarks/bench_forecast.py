"""ETTh1 forecasting: rnnkit's Forecaster beside the naive baselines, the published LSTMa
numbers and (optionally) Darts and neuralforecast LSTMs, on exactly the same windows.

Usage (data from ../shared/data/ett; nothing is downloaded):
    python benchmarks/bench_forecast.py                         # rnnkit and the baselines
    python benchmarks/bench_forecast.py --peers-python ../benchenv/bin/python   # + Darts, neuralforecast
    python benchmarks/bench_forecast.py --runs uni-24 multi-48  # a subset

Protocol (Informer / Time-Series-Library ``Dataset_ETT_hour``): train rows [0, 8640),
valid [8640, 11520), test [11520, 14400); z-scored with the training rows' statistics;
context 96; every test window (stride 1); MSE and MAE on the z-scored axis. Univariate:
target OT at horizons 24/48/168; multivariate: all 7 columns at 24/48. One rnnkit
configuration for every run (below). Wall time is end to end: reading the CSV, training,
and forecasting every test window. Writes benchmarks/results/forecast_etth1.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from rnnkit.tasks.forecast import Forecaster

HERE = Path(__file__).resolve().parent
ETT = HERE.parent.parent / "shared" / "data" / "ett" / "ETTh1.csv"
COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
RUNS = {"uni-24": ("OT", 24), "uni-48": ("OT", 48), "uni-168": ("OT", 168),
        "multi-24": (",".join(COLUMNS), 24), "multi-48": (",".join(COLUMNS), 48)}
#: Informer paper (Zhou et al. 2021), LSTMa test MSE: univariate Table 1, multivariate Table 2.
PUBLISHED_LSTMA = {"uni-24": 0.114, "uni-48": 0.193, "uni-168": 0.236, "multi-24": 0.650, "multi-48": 0.702}
PUBLISHED_INFORMER = {"uni-24": 0.098, "multi-24": 0.577}

#: The one configuration (shared by every run; the peers get the same hidden size, epochs, batch).
CONFIG = dict(context=96, split=(8640, 2880, 2880), scaler="standard", cell="lstm", hidden_size=64, num_layers=1,
              decoder="direct", likelihood="point", instance_norm=True, calendar=True, epochs=20, batch_size=64,
              lr=1e-3, clip=1.0, early_stopping=2, seed=0, device="cpu")
# Early stopping after 2 epochs without a better validation loss, for rnnkit and both peers alike:
# starting from the naive forecast (instance normalisation, zero-initialised heads), the best
# validation epoch comes early; longer patience cost time and, here, never accuracy.


def run_rnnkit(path: Path, targets: str, horizon: int) -> dict:
    t0 = time.perf_counter()
    df = pd.read_csv(path)
    f = Forecaster(horizon=horizon, target=targets.split(","), time_col="date", **CONFIG).fit(df)
    bt = f.backtest(df, "test")
    seconds = time.perf_counter() - t0
    return {"windows": bt.windows, "seconds": seconds, "epochs": sum(1 for r in f.history_ if r.get("kind") == "valid"),
            **{name: {"mse": m["mse"], "mae": m["mae"]} for name, m in bt.scaled.items()}}


def run_peer(python: str, library: str, path: Path, targets: str, horizon: int, patience: int) -> dict | None:
    cmd = [python, str(HERE / "peers" / "ett_peers.py"), "--library", library, "--data", str(path), "--target",
           targets, "--horizon", str(horizon), "--hidden", str(CONFIG["hidden_size"]), "--epochs",
           str(CONFIG["epochs"]), "--batch-size", str(CONFIG["batch_size"]), "--lr", str(CONFIG["lr"]),
           "--patience", str(patience)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  {library} failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["seconds_end_to_end"] = time.perf_counter() - t0  # includes the interpreter and library imports
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ETT)
    ap.add_argument("--runs", nargs="*", default=list(RUNS), choices=list(RUNS))
    ap.add_argument("--peers-python", help="Python of an environment with darts and neuralforecast installed.")
    ap.add_argument("--peers", nargs="*", default=["darts", "neuralforecast"])
    ap.add_argument("--peer-patience", type=int, default=CONFIG["early_stopping"],
                    help="Peers' early stopping (default: rnnkit's); 0 trains them for every epoch, "
                         "recorded as LIBRARY@all-epochs.")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "forecast_etth1.json")
    args = ap.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data} not found: ETTh1.csv lives in ../shared/data/ett")
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["config"] = {k: list(v) if isinstance(v, tuple) else v for k, v in CONFIG.items()}
    results["torch_threads"] = torch.get_num_threads()
    for name in args.runs:
        targets, horizon = RUNS[name]
        print(f"{name}: rnnkit ...", flush=True)
        row = {"rnnkit": run_rnnkit(args.data, targets, horizon), "published_lstma_mse": PUBLISHED_LSTMA.get(name),
               "published_informer_mse": PUBLISHED_INFORMER.get(name)}
        if args.peers_python and args.peer_patience != CONFIG["early_stopping"]:
            row[f"rnnkit@peers-{args.peer_patience or 'all-epochs'}"] = row.pop("rnnkit")  # keep the pairing
        if args.peers_python:
            for lib in args.peers:
                print(f"{name}: {lib} ...", flush=True)
                key = lib if args.peer_patience == CONFIG["early_stopping"] else f"{lib}@all-epochs"
                row[key] = run_peer(args.peers_python, lib, args.data, targets, horizon, args.peer_patience)
        old = results.get("runs", {}).get(name, {})
        results.setdefault("runs", {})[name] = {**old, **{k: v for k, v in row.items() if v is not None}}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
    print_table(results)


def print_table(results: dict) -> None:
    head = ("| run | rnnkit MSE / MAE | naive | seasonal naive | rnnkit / best baseline | Darts | neuralforecast "
            "| LSTMa (published) | rnnkit s | Darts s | nf s |")
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for name, row in results.get("runs", {}).items():
        r = row["rnnkit"]
        best = min(r["naive"]["mse"], r.get("seasonal_naive", {"mse": float("inf")})["mse"])
        peers = [row.get(lib) for lib in ("darts", "neuralforecast")]
        cells = [f"{r['model']['mse']:.4f} / {r['model']['mae']:.4f}", f"{r['naive']['mse']:.4f}",
                 f"{r['seasonal_naive']['mse']:.4f}" if "seasonal_naive" in r else "-",
                 f"{r['model']['mse'] / best:.2f}x",
                 *[f"{p['mse']:.4f}" if p else "-" for p in peers],
                 f"{row['published_lstma_mse']}" if row.get("published_lstma_mse") else "-",
                 f"{r['seconds']:.0f}", *[f"{p['seconds_end_to_end']:.0f}" if p else "-" for p in peers]]
        print(f"| {name} | " + " | ".join(cells) + " |")
    paired = {n: row for n, row in results.get("runs", {}).items() if "rnnkit@peers-all-epochs" in row}
    if paired:
        print("\nPeers trained for every epoch (no early stopping), rnnkit as configured, in one run:")
        print("| run | rnnkit MSE | Darts MSE | nf MSE | rnnkit s | Darts s | nf s | speed-up vs Darts / nf |")
        print("|---|---|---|---|---|---|---|---|")
        for name, row in paired.items():
            r, d, n = row["rnnkit@peers-all-epochs"], row.get("darts@all-epochs"), row.get("neuralforecast@all-epochs")
            ratios = " / ".join(f"{p['seconds_end_to_end'] / r['seconds']:.1f}x" if p else "-" for p in (d, n))
            print(f"| {name} | {r['model']['mse']:.4f} | {d['mse'] if d else float('nan'):.4f} | "
                  f"{n['mse'] if n else float('nan'):.4f} | {r['seconds']:.0f} | "
                  f"{d['seconds_end_to_end'] if d else float('nan'):.0f} | "
                  f"{n['seconds_end_to_end'] if n else float('nan'):.0f} | {ratios} |")


if __name__ == "__main__":
    main()
