"""Forecast accuracy and the baselines a forecaster must beat, on the same windows.

All functions take arrays whose last axes are (horizon, targets): ``y`` and ``pred``
(W, H, n) for W windows. Definitions:

* MAE = mean |y - ŷ|;  MSE = mean (y - ŷ)^2;  RMSE = sqrt(MSE);
* sMAPE = mean 200 |y - ŷ| / (|y| + |ŷ|)  (in percent; terms with y = ŷ = 0 count 0);
* MASE = MAE / mean |y_t - y_{t-m}| over the training rows (Hyndman & Koehler 2006):
  below 1 beats the in-sample seasonal naive forecast.

Baselines for a window with origin t (context rows ``[t - C, t)``), step k = 0..H-1:
naive ``ŷ = y[t-1]``; seasonal naive ``ŷ = y[t - m + (k mod m)]`` (the last observed
season repeated); mean ``ŷ = mean(y[t-C:t])``.
"""

from __future__ import annotations

import numpy as np


def forecast_metrics(y: np.ndarray, pred: np.ndarray, mase_scale: np.ndarray | float | None = None) -> dict:
    y, pred = np.asarray(y, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    err = y - pred
    out = {"mse": float(np.mean(err ** 2)), "mae": float(np.mean(np.abs(err)))}
    out["rmse"] = float(np.sqrt(out["mse"]))
    denom = np.abs(y) + np.abs(pred)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(denom > 0, 200.0 * np.abs(err) / denom, 0.0)
    out["smape"] = float(np.mean(terms))
    if mase_scale is not None:
        scale = np.asarray(mase_scale, dtype=np.float64)
        out["mase"] = float(np.mean(np.abs(err) / np.where(scale > 0, scale, np.nan)))
    return out


def seasonal_scale(train: np.ndarray, season: int) -> np.ndarray:
    """Per-column mean |y_t - y_{t-m}| on training rows (m = 1 if the series is too short)."""
    train = np.asarray(train, dtype=np.float64)
    m = season if len(train) > season else 1
    return np.abs(train[m:] - train[:-m]).mean(0)


def naive_forecast(series: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """(W, H, n): the last observed value, repeated."""
    return np.repeat(series[origins - 1][:, None, :], horizon, axis=1)


def seasonal_naive_forecast(series: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """(W, H, n): the value one season before, the last observed season repeated."""
    k = np.arange(horizon)
    rows = origins[:, None] - season + (k % season)[None, :]
    return series[rows]


def mean_forecast(series: np.ndarray, origins: np.ndarray, horizon: int, context: int) -> np.ndarray:
    """(W, H, n): the mean of the context window."""
    rows = origins[:, None] + np.arange(-context, 0)[None, :]
    return np.repeat(series[rows].mean(1, keepdims=True), horizon, axis=1)


def baseline_forecasts(series: np.ndarray, origins: np.ndarray, horizon: int, context: int,
                       season: int) -> dict[str, np.ndarray]:
    """Every baseline on the given windows; seasonal naive only when a season fits before
    every origin."""
    out = {"naive": naive_forecast(series, origins, horizon),
           "mean": mean_forecast(series, origins, horizon, context)}
    if season > 1 and len(origins) and origins.min() >= season:
        out["seasonal_naive"] = seasonal_naive_forecast(series, origins, horizon, season)
    return out


def default_season(freq) -> int:
    """The usual seasonal period for a time step: a day of hours, a week of days, ..."""
    import pandas as pd

    step = pd.Timedelta(freq)
    for period in (pd.Timedelta(days=1), pd.Timedelta(days=7), pd.Timedelta(days=365)):
        if step < period:
            m = int(round(period / step))
            if m > 1 and abs(m * step - period) < step / 2:
                return m
    return 1


__all__ = ["forecast_metrics", "seasonal_scale", "naive_forecast", "seasonal_naive_forecast", "mean_forecast",
           "baseline_forecasts", "default_season"]
