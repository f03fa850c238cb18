"""Darts and neuralforecast LSTMs on the ETTh1 windows of bench_forecast.py.

Runs in its own environment (these libraries are never rnnkit dependencies):
    python -m venv ../benchenv && ../benchenv/bin/pip install torch==2.13.0
    ../benchenv/bin/pip install -c <(echo torch==2.13.0) darts neuralforecast
    ../benchenv/bin/python benchmarks/peers/ett_peers.py --library darts --horizon 24 --target OT

Same protocol as rnnkit's run: standard split (train rows [0, 8640), valid [8640, 11520),
test [11520, 14400)), z-scored with the training rows' mean and std, context 96, every
test window (stride 1), MSE/MAE on the z-scored axis. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings

import numpy as np
import pandas as pd

TRAIN, VALID, TEST = 8640, 11520, 14400
CONTEXT = 96


def load(path: str, targets: list[str]) -> tuple[pd.DatetimeIndex, np.ndarray]:
    df = pd.read_csv(path, parse_dates=["date"])
    values = df[targets].to_numpy(dtype=np.float64)[:TEST]
    mean, std = values[:TRAIN].mean(0), values[:TRAIN].std(0)
    return pd.DatetimeIndex(df["date"][:TEST]), ((values - mean) / std).astype(np.float32)


def test_truth(z: np.ndarray, horizon: int) -> np.ndarray:
    origins = np.arange(VALID, TEST - horizon + 1)
    return np.stack([z[t:t + horizon] for t in origins])  # (W, H, n)


def run_darts(times, z, horizon, args) -> np.ndarray:
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    series = TimeSeries.from_times_and_values(times, z)
    from pytorch_lightning.callbacks import EarlyStopping

    callbacks = [EarlyStopping(monitor="val_loss", patience=args.patience, mode="min")] if args.patience else []
    model = BlockRNNModel(input_chunk_length=CONTEXT, output_chunk_length=horizon, model="LSTM",
                          hidden_dim=args.hidden, n_rnn_layers=1, n_epochs=args.epochs, batch_size=args.batch_size,
                          optimizer_kwargs={"lr": args.lr}, random_state=0,
                          pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False,
                                             "enable_model_summary": False, "logger": False, "callbacks": callbacks})
    model.fit(series[:TRAIN], val_series=series[TRAIN - CONTEXT:VALID], verbose=False)
    forecasts = model.historical_forecasts(series, start=VALID, forecast_horizon=horizon, stride=1, retrain=False,
                                           last_points_only=False, overlap_end=False, verbose=False)
    return np.stack([f.values() for f in forecasts])


def run_neuralforecast(times, z, horizon, args) -> np.ndarray:
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM

    n = z.shape[1]
    df = pd.concat([pd.DataFrame({"unique_id": str(j), "ds": times, "y": z[:, j]}) for j in range(n)])
    steps_per_epoch = int(np.ceil((TRAIN - CONTEXT - horizon + 1) * n / args.batch_size))
    model = LSTM(h=horizon, input_size=CONTEXT, encoder_hidden_size=args.hidden, encoder_n_layers=1,
                 max_steps=args.epochs * steps_per_epoch, batch_size=n, windows_batch_size=args.batch_size,
                 learning_rate=args.lr, scaler_type=None, random_seed=0, val_check_steps=steps_per_epoch,
                 early_stop_patience_steps=args.patience or -1, accelerator="cpu", enable_progress_bar=False,
                 enable_model_summary=False, logger=False)
    nf = NeuralForecast(models=[model], freq="h")
    cv = nf.cross_validation(df=df, val_size=VALID - TRAIN, test_size=TEST - VALID, n_windows=None, step_size=1,
                             refit=False)
    cv = cv.sort_values(["unique_id", "cutoff", "ds"])
    out = []
    for j in range(n):
        part = cv[cv["unique_id"] == str(j)]
        out.append(part["LSTM"].to_numpy().reshape(-1, horizon))
    return np.stack(out, -1)  # (W, H, n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", choices=["darts", "neuralforecast"], required=True)
    ap.add_argument("--data", default="../shared/data/ett/ETTh1.csv")
    ap.add_argument("--target", default="OT", help="comma-separated columns")
    ap.add_argument("--horizon", type=int, default=24)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--patience", type=int, default=2,
                    help="stop after this many epochs without a better validation loss (0: train every epoch)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    t0 = time.perf_counter()
    times, z = load(args.data, args.target.split(","))
    run = run_darts if args.library == "darts" else run_neuralforecast
    pred = run(times, z, args.horizon, args)
    truth = test_truth(z, args.horizon)
    if pred.shape != truth.shape:
        raise SystemExit(f"{args.library}: {pred.shape} forecasts for {truth.shape} windows")
    err = pred - truth
    print(json.dumps({"library": args.library, "horizon": args.horizon, "targets": args.target,
                      "windows": len(truth), "mse": float(np.mean(err ** 2)), "mae": float(np.mean(np.abs(err))),
                      "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
