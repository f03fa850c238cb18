"""The forecasting baseline guard and RevIN on three kinds of series, with the defaults.

Usage (data from ../shared/data; the random walk is generated here):
    python benchmarks/bench_forecast_guard.py            # writes results/forecast_guard.json

Series: ETTh1 (target OT, horizon 24, the Informer split), PJM East hourly load (the last two
years, 17,520 rows, horizon 24, 70/10/20), and a geometric random walk (2,500 daily "prices",
seed 0, horizon 24, 70/10/20: the case where nothing beats the last value). For each, the
forecaster's defaults (per-window normalisation by the last value) and ``revin=True``, both
with the default ``fallback="baseline"``: the guard's verdict on validation, then the test
MSE (z-scored) of the network, of what is served, and of the naive and best baselines.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rnnkit.tasks.forecast import Forecaster

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"


def datasets() -> dict[str, tuple[pd.DataFrame, dict]]:
    ett = pd.read_csv(SHARED / "ett" / "ETTh1.csv")
    pjm = pd.read_csv(SHARED / "pjm-hourly-energy" / "PJME_hourly.csv")
    pjm = pjm.sort_values("Datetime").drop_duplicates("Datetime").tail(17_520).reset_index(drop=True)
    rng = np.random.default_rng(0)
    walk = pd.DataFrame({"date": pd.date_range("2010-01-01", periods=2_500, freq="D"),
                         "price": 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, 2_500)))})
    return {
        "ETTh1 OT h=24": (ett, dict(target=["OT"], time_col="date", split=(8640, 2880, 2880))),
        "PJM East h=24 (2 years)": (pjm, dict(target=["PJME_MW"], time_col="Datetime", fill="interpolate")),
        "random walk h=24": (walk, dict(target=["price"], time_col="date")),
    }


def run(name: str, df: pd.DataFrame, data_args: dict, revin: bool, seed: int) -> dict:
    t0 = time.perf_counter()
    f = Forecaster(horizon=24, seed=seed, device="cpu", revin=revin, **data_args).fit(df)
    bt = f.backtest(df, "test")
    best = min((k for k in bt.scaled if k not in ("model", "served")), key=lambda k: bt.scaled[k]["mse"])
    g = f.guard_
    row = {"series": name, "normalisation": "revin" if revin else "last value (default)", "seed": seed,
           "epochs": len([h for h in f.history_ if h.get("kind") == "valid"]), "stopped": f.stopped_because_,
           "valid_ratio": round(g.ratio, 3) if g else None, "serving": g.serving if g else "model",
           "test_mse_model": round(bt.scaled["model"]["mse"], 5),
           "test_mse_served": round(bt.scaled.get("served", bt.scaled["model"])["mse"], 5),
           "test_mse_naive": round(bt.scaled["naive"]["mse"], 5), "best_baseline": best,
           "test_mse_best_baseline": round(bt.scaled[best]["mse"], 5), "wall_s": round(time.perf_counter() - t0, 1)}
    row["served_vs_best_baseline"] = round(row["test_mse_served"] / row["test_mse_best_baseline"], 3)
    print(row, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "forecast_guard.json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()
    rows = [run(name, df, data_args, revin, seed) for name, (df, data_args) in datasets().items()
            for revin in (False, True) for seed in range(args.seeds)]
    result = {"threads": torch.get_num_threads(), "torch": torch.__version__, "load_average_before": load,
              "load_average_after": os.getloadavg(), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print("\n| series | normalisation | epochs | validation model/best baseline | served | test MSE model | "
          "test MSE served | naive | served / best baseline |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['series']} | {r['normalisation']} | {r['epochs']} | {r['valid_ratio']} | {r['serving']} | "
              f"{r['test_mse_model']:.4f} | {r['test_mse_served']:.4f} | {r['test_mse_naive']:.4f} | "
              f"{r['served_vs_best_baseline']:.3f} |")


if __name__ == "__main__":
    main()
