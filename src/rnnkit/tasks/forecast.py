"""Forecasting end to end: a table of series -> a trained :class:`Forecaster` -> forecasts,
a rolling-origin backtest beside the naive baselines, and plots.

``Forecaster(horizon=24).fit(df)`` follows scikit-learn's conventions (hyperparameters in
``__init__``, learned attributes ending in ``_``). The data's description (time column,
targets, covariates, id column, cleaning options) is part of the parameters, so a saved
forecaster reads a new file exactly as it read the training file.

Per series, rows are split in time order (``split``: fractions or row counts; or
``valid_start``/``test_start`` dates); scalers are fitted on the training rows only;
training windows are those whose whole target lies in the training rows (see
:mod:`rnnkit.data.windows`). Metrics are reported in original units and on the scaled
axis (what the ETT literature reports), for the model and for the naive, seasonal-naive
and mean baselines on exactly the same windows. After training, the baseline guard
(:mod:`rnnkit.tasks.forecast_guard`) compares the model with the baselines on the
validation windows and, if the model loses, says so and serves what ``fallback`` says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.time_table import SeriesSet, calendar_features, parse_step, prepare_series
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
from rnnkit.evaluation.forecasting import baseline_forecasts, default_season, forecast_metrics, seasonal_scale
from rnnkit.models.forecaster import ForecastNet, ForecastNetConfig
from rnnkit.tasks.base import Estimator
from rnnkit.tasks.forecast_guard import BaselineGuard, check_fallback

TASK = "forecast"


class ForecastTask:
    """Trainer task: windows in, the likelihood's loss out; validation reports the MSE of
    the point forecast on the scaled axis."""

    carries_state = False
    item_unit = "windows"  # what the progress bar's rate counts

    def __init__(self, model: ForecastNet, train: WindowBatches, valid: WindowBatches, meta: dict) -> None:
        self.model, self.train, self.valid, self._meta = model, train, valid, meta

    def train_batches(self, epoch: int):
        return self.train.for_epoch(epoch)

    def data_fingerprint(self) -> str:
        return fingerprint(self.train, self.valid)

    def train_step(self, model, batch, state):
        device = next(model.parameters()).device
        past, future, y = (t.to(device) for t in batch)
        out = model(past, future, y)
        return model.loss(out, y), None, len(y)

    @torch.no_grad()
    def evaluate(self, model, split: str) -> dict:
        model.eval()
        device = next(model.parameters()).device
        loss = mse = mae = 0.0
        n = 0
        for batch in self.valid.for_epoch(0):
            past, future, y = (t.to(device) for t in batch)
            out = model(past, future)
            err = model.point(out) - y
            loss += float(model.loss(out, y)) * len(y)
            mse += float(err.pow(2).mean()) * len(y)
            mae += float(err.abs().mean()) * len(y)
            n += len(y)
        return {"loss": loss / n, "mse": mse / n, "mae": mae / n}

    def describe(self, loss: float) -> dict:
        return {}

    def meta(self) -> dict:
        return self._meta


@dataclass
class Backtest:
    """A rolling-origin evaluation: ``metrics[name]`` for ``"model"`` and each baseline, in
    original units, and ``scaled[name]`` on the scaled axis; per series the window origins'
    times, the actual values and forecasts (W, H, n) in original units."""

    split: str
    horizon: int
    windows: int
    metrics: dict[str, dict]
    scaled: dict[str, dict]
    series: list[dict] = field(default_factory=list)
    target_cols: list[str] = field(default_factory=list)
    per_target: dict[str, dict[str, dict]] = field(default_factory=dict)  # target -> name -> metrics (original units)
    season: int | None = None  # the seasonal period of the seasonal-naive baseline and of MASE
    guard: dict | None = None  # the baseline guard's validation verdict (see forecast_guard)
    #: a probabilistic model's prediction interval: its nominal level and the share of the actual
    #: values it covered (a calibrated 80 % interval covers about 80 %); None for point forecasts
    interval: dict | None = None

    def to_dict(self) -> dict:
        return {"split": self.split, "horizon": self.horizon, "windows": self.windows, "targets": self.target_cols,
                "season": self.season, "metrics": self.metrics, "scaled": self.scaled, "per_target": self.per_target,
                "guard": self.guard, "interval": self.interval}


class Forecaster(Estimator):
    """A recurrent multi-horizon forecaster for one or many series in a table.

    Data: ``time_col`` (None: guess), ``target`` (a column or list; None: every other
    numeric column), ``past_covariates`` (observed, unknown ahead), ``known_covariates``
    (known ahead: needed for the horizon when predicting), ``calendar`` (add hour/weekday/
    day-of-year features derived from the time), ``id_col``, ``time_format``/``dayfirst``,
    ``duplicates`` (error|mean|first|last), ``fill`` (None|interpolate|ffill), ``freq``.

    Windows and scaling: ``context``, ``horizon``, ``split`` (train, valid, test) fractions
    or row counts, or ``valid_start``/``test_start`` dates; ``scaler`` (standard|minmax|none,
    per series, fitted on training rows); ``season`` for the seasonal baseline and MASE
    (None: from the time step); ``stride`` between training windows.

    Guard: ``fallback`` (baseline|ensemble|none) is what is served when the model does not
    beat the best baseline on the validation windows (see :mod:`rnnkit.tasks.forecast_guard`);
    ``guard_`` holds the verdict, and backtests show the served forecast beside the model.

    Model (see :class:`~rnnkit.models.forecaster.ForecastNet`): ``cell``, ``hidden_size``,
    ``num_layers``, ``dropout``, ``decoder`` (direct|autoregressive), ``likelihood``
    (point|gaussian|quantile), ``quantiles``, ``instance_norm`` (shift by the last value),
    ``revin`` (instead: RevIN, centred on the window mean, learnable affine), ``highway`` (LSTNet's linear
    shortcut over the context), ``teacher_forcing``;
    ``warmup``: rows the encoder reads before the context to settle its state (in training
    and prediction alike; ``predict(..., history=True)`` reads the whole history).
    Training: ``epochs`` (a cap: 100 by default, so that short series train until validation
    stops improving rather than until a small count runs out), ``batch_size``, ``lr``,
    ``weight_decay``, ``clip``, ``early_stopping`` (epochs without a better validation loss;
    5), ``seed``, ``device``,
    ``verbose``, ``run_dir`` (keep checkpoints and metrics there; resume from it), ``max_time``.
    """

    TASK = TASK
    KIND = "forecasting"
    model_: ForecastNet

    def __init__(self, horizon: int = 24, context: int = 96, target: Any = None, time_col: str | None = None,
                 past_covariates: tuple = (), known_covariates: tuple = (), calendar: bool = True,
                 id_col: str | None = None, time_format: str | None = None, dayfirst: bool = False,
                 duplicates: str = "error", fill: str | None = None, freq: str | None = None,
                 split: tuple = (0.7, 0.1, 0.2), valid_start: str | None = None, test_start: str | None = None,
                 scaler: str = "standard", season: int | None = None, stride: int = 1, warmup: int = 0,
                 cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1, dropout: float = 0.0,
                 zoneout: float = 0.0, decoder: str = "direct", likelihood: str = "point",
                 quantiles: tuple = (0.1, 0.5, 0.9),
                 instance_norm: bool = True, highway: bool = True, teacher_forcing: float = 0.0, epochs: int = 100,
                 batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.0, clip: float | None = 1.0,
                 early_stopping: int | None = 5, seed: int = 0, device: str = "auto",
                 precision: str = "fp32", verbose: bool = False,
                 run_dir: str | None = None, max_time: float | None = None, checkpoint_every: int = 0,
                 fallback: str = "baseline", revin: bool = False) -> None:
        self.horizon, self.context, self.target, self.time_col = horizon, context, target, time_col
        self.past_covariates, self.known_covariates, self.calendar = past_covariates, known_covariates, calendar
        self.id_col, self.time_format, self.dayfirst = id_col, time_format, dayfirst
        self.duplicates, self.fill, self.freq = duplicates, fill, freq
        self.split, self.valid_start, self.test_start = split, valid_start, test_start
        self.scaler, self.season, self.stride, self.warmup = scaler, season, stride, warmup
        self.cell, self.hidden_size, self.num_layers, self.dropout = cell, hidden_size, num_layers, dropout
        self.zoneout = zoneout
        self.decoder, self.likelihood, self.quantiles = decoder, likelihood, quantiles
        self.instance_norm, self.highway, self.teacher_forcing = instance_norm, highway, teacher_forcing
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.clip, self.early_stopping, self.seed, self.device = clip, early_stopping, seed, device
        self.precision = precision
        self.verbose, self.run_dir, self.max_time = verbose, run_dir, max_time
        self.checkpoint_every = checkpoint_every
        self.fallback, self.revin = fallback, revin

    # ------------------------------------------------------------- data
    def _check_params(self) -> None:
        if self.horizon < 1 or self.context < 1:
            raise ConfigError(f"horizon and context must be at least 1, got {self.horizon} and {self.context}")
        if self.stride < 1 or self.warmup < 0:
            raise ConfigError(f"stride must be at least 1 and warmup at least 0, got {self.stride}, {self.warmup}")
        if self.freq is not None:
            parse_step(self.freq)
        check_fallback(self.fallback)

    @property
    def _reach(self) -> int:
        """Rows the encoder reads before an origin: the warm-up, then the context."""
        return self.context + self.warmup

    def _targets(self) -> list[str] | None:
        if self.target is None:
            return None
        return [self.target] if isinstance(self.target, str) else list(self.target)

    def read(self, data) -> SeriesSet:
        """A DataFrame or a path (CSV/Parquet) -> checked series, as this forecaster reads them
        (a :class:`SeriesSet` it read before is returned as it is)."""
        from rnnkit.data.time_table import read_table

        if isinstance(data, SeriesSet):
            return data

        df = read_table(data) if isinstance(data, (str, Path)) else data
        fitted = hasattr(self, "target_cols_")
        try:
            sset = prepare_series(df, self.time_col, self.target_cols_ if fitted else self._targets(),
                                  self.past_covariates, self.known_covariates, self.id_col, self.time_format,
                                  self.dayfirst, self.duplicates, self.fill,
                                  self.freq_ if fitted else self.freq, self.calendar)
        except DataError as e:
            if isinstance(data, (str, Path)):  # name the file the cell is in
                raise DataError(f"{data}: {e}") from None
            raise
        if fitted and sset.calendar != self.calendar_:
            raise DataError(f"the data's time step ({sset.freq}) differs from the training data's ({self.freq_})")
        return sset

    def _bounds(self, s) -> SplitBounds:
        if self.valid_start or self.test_start:
            if not (self.valid_start and self.test_start):
                raise ConfigError("give both valid_start and test_start (or neither)")
            return split_bounds_at(s.times, self.valid_start, self.test_start)
        return split_bounds(len(s), self.split)

    def _inputs(self, s) -> np.ndarray:
        """(N, n + p + k_user): the columns a scaler sees (calendar features are already in [-1, 1])."""
        k_user = len(self.known_covariates)
        return np.concatenate([s.targets, s.past, s.known[:, :k_user]], 1)

    def _scaled(self, s, scaler: Scaler) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(inputs (N, n+p+k), known (N, k), targets (N, n)), scaled."""
        k_user = len(self.known_covariates)
        z = scaler.transform(self._inputs(s))
        n = s.targets.shape[1]
        known = np.concatenate([z[:, z.shape[1] - k_user:], s.known[:, k_user:]], 1).astype(np.float32)
        return np.concatenate([z, s.known[:, k_user:]], 1).astype(np.float32), known, z[:, :n]

    # ------------------------------------------------------------- fit
    def _fit(self, data, resume: bool = False) -> None:
        """Train on the training rows of every series, choosing the epoch by validation loss."""
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, attr)  # refitting starts from nothing
        sset = self.read(data)
        self.target_cols_, self.freq_, self.calendar_ = sset.target_cols, str(sset.freq), sset.calendar
        self.season_ = self.season or default_season(sset.freq)
        self.data_report_ = sset.report
        self.scalers_: dict[str, Scaler] = {}
        arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        train_parts: list[np.ndarray] = []
        valid_parts: list[np.ndarray] = []
        for i, s in enumerate(sset.series):
            bounds = self._bounds(s)
            if bounds.train_end < self._reach + self.horizon:
                where = f" ({s.key})" if s.key else ""
                raise DataError(f"series{where} has {bounds.train_end} training rows; context + horizon needs "
                                f"{self._reach + self.horizon}")
            names = [*sset.target_cols, *sset.past_cols, *sset.known_cols]
            self.scalers_[s.key] = Scaler(self.scaler).fit(self._inputs(s)[:bounds.train_end], names,
                                                           f" in series {s.key!r}" if s.key else "")
            arrays.append(self._scaled(s, self.scalers_[s.key]))
            tr = window_origins(bounds, "train", self._reach, self.horizon, self.stride)
            va = window_origins(bounds, "valid", self._reach, self.horizon, 1)
            train_parts.append(np.stack([np.full(len(tr), i), tr], 1))
            valid_parts.append(np.stack([np.full(len(va), i), va], 1))
        train_index, valid_index = np.concatenate(train_parts), np.concatenate(valid_parts)
        self._evaluated_on = "valid"
        if len(valid_index) == 0:  # no validation rows: choose the epoch by training loss
            valid_index = train_index
            self._evaluated_on = "train"
        self.n_series_ = len(sset.series)
        config = ForecastNetConfig(n_targets=len(sset.target_cols), horizon=self.horizon, n_past=len(sset.past_cols),
                                   n_known=sset.n_known, cell=self.cell, hidden_size=self.hidden_size,
                                   num_layers=self.num_layers, dropout=self.dropout, zoneout=self.zoneout,
                                   decoder=self.decoder,
                                   likelihood=self.likelihood, quantiles=list(self.quantiles),
                                   instance_norm=self.instance_norm, revin=self.revin,
                                   teacher_forcing=self.teacher_forcing,
                                   norm_window=self.context, highway=self.context if self.highway else 0)
        torch.manual_seed(self.seed)
        model = ForecastNet(config)
        train = WindowBatches(arrays, train_index, self._reach, self.horizon, self.batch_size, True, self.seed)
        valid = WindowBatches(arrays, valid_index, self._reach, self.horizon, 256, False)
        self._guard_series = sset  # for the guard, after training and before the model is saved
        try:
            self._train(model, train, valid, resume)
        finally:
            self.__dict__.pop("_guard_series", None)

    def _after_training(self) -> None:
        """The baseline guard on the validation windows (``guard_``; None without any)."""
        sset = self.__dict__.pop("_guard_series", None)
        self.guard_: BaselineGuard | None = None
        if sset is None or self.evaluated_on_ == "train":
            return
        ys, models = [], []
        bases: dict[str, list[np.ndarray]] = {}
        for s in sset.series:
            w = self._series_windows(s, "valid", 1)
            if w is None:
                continue
            ys.append(w["y_z"])
            models.append(w["point_z"])
            for k, v in self._guard_candidates(w["base_z"]).items():
                bases.setdefault(k, []).append(v)
        bases = {k: v for k, v in bases.items() if len(v) == len(ys)}
        if not ys or not bases:
            return
        self.guard_ = BaselineGuard.decide(self.fallback, np.concatenate(ys), np.concatenate(models),
                                           {k: np.concatenate(v) for k, v in bases.items()})

    def _guard_candidates(self, base_z: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The baselines computable from the model's own input window (the seasonal naive
        forecast only when the season fits in it)."""
        return {k: v for k, v in base_z.items() if k != "seasonal_naive" or self.season_ <= self._reach}

    def _served(self, point_z: np.ndarray, targets_z: np.ndarray, origins: np.ndarray) -> np.ndarray | None:
        """The forecast the guard serves instead of ``point_z`` (scaled), or None: the model's."""
        guard = getattr(self, "guard_", None)
        if guard is None or guard.serving == "model":
            return None
        base = baseline_forecasts(targets_z, origins, self.horizon, self.context, self.season_)
        return guard.serve(point_z, base)

    def _meta(self) -> dict:
        return {"target_cols": self.target_cols_, "freq": self.freq_, "calendar": self.calendar_,
                "season": self.season_, "scalers": {k: v.to_dict() for k, v in self.scalers_.items()},
                "n_series": self.n_series_,
                "guard": self._guard_dict()}

    def _guard_dict(self) -> dict | None:
        guard = getattr(self, "guard_", None)
        return None if guard is None else guard.to_dict()

    def _train(self, model: ForecastNet, train: WindowBatches, valid: WindowBatches, resume: bool) -> None:
        task = ForecastTask(model, train, valid, self._checkpoint_meta())
        cfg = self._trainer_config(log_every=10)
        self._fit_with_trainer(model, task, cfg, resume)

    def _scaler_for(self, key: str) -> Scaler:
        if key in self.scalers_:
            return self.scalers_[key]
        if len(self.scalers_) == 1 and not self.id_col:
            return next(iter(self.scalers_.values()))
        raise DataError(f"series {key!r} was not in the training data: no scaler fitted for it")

    @torch.no_grad()
    def _forecast(self, past: np.ndarray, future: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Scaled point forecasts (W, H, n) and intervals (2, W, H, n) or None, in batches."""
        model = self.model_.eval()
        device = next(model.parameters()).device
        points, bounds = [], []
        for i in range(0, len(past), 512):
            out = model(torch.from_numpy(past[i:i + 512]).to(device), torch.from_numpy(future[i:i + 512]).to(device))
            points.append(model.point(out).cpu().numpy())
            iv = model.intervals(out)
            if iv is not None:
                bounds.append(torch.stack(iv).cpu().numpy())
        return np.concatenate(points), (np.concatenate(bounds, 1) if bounds else None)

    def _unscale(self, scaler: Scaler, z: np.ndarray) -> np.ndarray:
        n = len(self.target_cols_)
        return z * scaler.scale[:n] + scaler.loc[:n]

    # ------------------------------------------------------------- predict
    def _export_meta(self) -> dict:
        return {"context": self._reach, "target_cols": list(self.target_cols_), "calendar": list(self.calendar_),
                "freq": self.freq_}

    def stream(self, key: str = ""):
        """A :class:`~rnnkit.tasks.forecast_stream.ForecasterStream` for one series (``key``:
        its id, for a forecaster fitted on several): ``update(row, time)`` with each new
        observation in the data's units, ``forecast()`` -> the next ``horizon`` steps, as
        :meth:`predict` gives them for the rows seen so far."""
        from rnnkit.tasks.forecast_stream import ForecasterStream

        self._check_fitted()
        return ForecasterStream(self, key)

    def predict(self, data, future=None, history: bool = False):
        """Forecast the ``horizon`` steps after the end of each series in ``data``.

        ``future``: a table with the known-future covariates for those steps (needed only
        when ``known_covariates`` were given). ``history=True``: the encoder reads every row
        of the series, carrying its state up to the context (the statistics of instance
        normalisation still come from the last ``context`` rows), instead of the last
        ``warmup + context`` rows. Returns a DataFrame: the id column (if any),
        the time, one column per target, and ``TARGET_lower``/``TARGET_upper`` (an 80 %
        interval) for probabilistic forecasters.
        """
        import pandas as pd

        self._check_fitted()
        sset = self.read(data)
        fut = self._future_covariates(future) if self.known_covariates else None
        rows = []
        for s in sset.series:
            if len(s) < self._reach:
                raise DataError(f"series{f' {s.key!r}' if s.key else ''} has {len(s)} rows; the forecaster reads "
                                f"the last {self._reach} (warm-up and context)")
            scaler = self._scaler_for(s.key)
            inputs, _, _ = self._scaled(s, scaler)
            times = pd.date_range(s.times[-1], periods=self.horizon + 1, freq=pd.Timedelta(self.freq_))[1:]
            known = calendar_features(times, self.calendar_)
            if fut is not None:
                user = fut.get(s.key) if s.key in fut else fut.get("")
                if user is None or len(user) < self.horizon:
                    raise DataError(f"future covariates for series {s.key!r} cover fewer than {self.horizon} steps")
                k_user = len(self.known_covariates)
                z = (user[:self.horizon] - scaler.loc[-k_user:]) / scaler.scale[-k_user:]
                known = np.concatenate([z.astype(np.float32), known], 1)
            past = inputs[None] if history else inputs[None, -self._reach:]
            point, iv = self._forecast(past, known[None].astype(np.float32))
            targets_z = inputs[:, :len(self.target_cols_)]
            served = self._served(point, targets_z, np.array([len(targets_z)]))
            if served is not None:  # the guard's forecast; the model's intervals do not describe it
                point, iv = served, None
            frame = {"time": times}
            if self.id_col:
                frame = {self.id_col: [s.key] * self.horizon, **frame}
            values = self._unscale(scaler, point[0])
            for j, col in enumerate(self.target_cols_):
                frame[col] = values[:, j]
                if iv is not None:
                    frame[f"{col}_lower"] = self._unscale(scaler, iv[0, 0])[:, j]
                    frame[f"{col}_upper"] = self._unscale(scaler, iv[1, 0])[:, j]
            rows.append(pd.DataFrame(frame))
        return pd.concat(rows, ignore_index=True)

    def _future_covariates(self, future) -> dict[str, np.ndarray]:
        from rnnkit.data.time_table import read_table

        if future is None:
            raise DataError(f"this forecaster uses known-future covariates ({', '.join(self.known_covariates)}): "
                            "give their values for the horizon (--future FILE)")
        df = read_table(future) if isinstance(future, (str, Path)) else future
        missing = [c for c in self.known_covariates if c not in df.columns]
        if missing:
            raise DataError(f"the future table lacks {', '.join(map(repr, missing))}")
        if self.id_col and self.id_col in df.columns:
            keys = df[self.id_col].astype(str).to_numpy()
        else:
            keys = np.full(len(df), "")
        return {k: df.loc[keys == k, list(self.known_covariates)].to_numpy(dtype=np.float64) for k in set(keys)}

    # ------------------------------------------------------------- backtest
    def backtest(self, data, split: str = "test", stride: int = 1) -> Backtest:
        """Rolling-origin evaluation: one forecast from every origin whose horizon lies in
        ``split`` (``test``, ``valid``, ``train`` or ``all``), ``stride`` apart, beside the
        baselines on the same windows."""
        self._check_fitted()
        if split not in ("train", "valid", "test", "all"):
            raise ConfigError(f"split must be train, valid, test or all, got {split!r}")
        sset = self.read(data)
        guard = getattr(self, "guard_", None)
        serving = guard is not None and guard.serving != "model"
        preds: dict[str, list[np.ndarray]] = {"model": [], **({"served": []} if serving else {}),
                                              "naive": [], "seasonal_naive": [], "mean": []}
        scaled: dict[str, list[np.ndarray]] = {k: [] for k in preds}
        ys, ys_scaled, scales, per_series = [], [], [], []
        for s in sset.series:
            w = self._series_windows(s, split, stride)
            if w is None:
                continue
            scaler, point_z, iv_z, y_z = w["scaler"], w["point_z"], w["iv_z"], w["y_z"]
            y = self._unscale(scaler, y_z)
            ys.append(y)
            ys_scaled.append(y_z)
            scales.append(np.broadcast_to(seasonal_scale(s.targets[:w["train_end"]], self.season_), y.shape))
            forecasts = [("model", point_z), *w["base_z"].items()]
            if serving and guard is not None:
                forecasts.insert(1, ("served", guard.serve(point_z, w["base_z"])))
            for name, z in forecasts:
                scaled[name].append(z)
                preds[name].append(self._unscale(scaler, z))
            per_series.append({"key": s.key, "times": s.times[w["origins"]], "step": s.times[1] - s.times[0],
                               "actual": y, "forecast": self._unscale(scaler, point_z),
                               "interval": None if iv_z is None else self._unscale(scaler, iv_z),
                               "history": s.targets, "history_times": s.times})
        if not ys:
            raise DataError(f"no complete window (context {self.context} + horizon {self.horizon}) lies in the "
                            f"{split} rows")
        y_all, y_scaled, scale_all = np.concatenate(ys), np.concatenate(ys_scaled), np.concatenate(scales)
        names = [k for k in preds if len(preds[k]) == len(ys)]
        metrics = {k: forecast_metrics(y_all, np.concatenate(preds[k]), scale_all) for k in names}
        metrics_scaled = {k: forecast_metrics(y_scaled, np.concatenate(scaled[k])) for k in names}
        for m in metrics_scaled.values():
            m.pop("smape")  # percentages of a z-score mean nothing
        per_target = {}
        if len(self.target_cols_) > 1:  # pooled original units mix scales: each target on its own too
            for j, col in enumerate(self.target_cols_):
                per_target[col] = {k: forecast_metrics(y_all[..., j], np.concatenate(preds[k])[..., j],
                                                       scale_all[..., j]) for k in names}
        return Backtest(split, self.horizon, len(y_all), metrics, metrics_scaled, per_series, list(self.target_cols_),
                        per_target, self.season_, None if guard is None else guard.to_dict(),
                        self._interval_coverage(per_series))

    def _interval_coverage(self, per_series: list[dict]) -> dict | None:
        """``{"level", "coverage", "width"}``: the model's central interval, the share of actual
        values inside it (every window, step and target) and its mean width in original units."""
        pairs = [(p["interval"], p["actual"]) for p in per_series if p["interval"] is not None]
        if not pairs:
            return None
        inside = np.concatenate([((iv[0] <= y) & (y <= iv[1])).reshape(-1) for iv, y in pairs])
        width = np.concatenate([(iv[1] - iv[0]).reshape(-1) for iv, _ in pairs])
        c = self.model_.config
        level = 0.8 if c.likelihood == "gaussian" else float(max(c.quantiles) - min(c.quantiles))
        return {"level": level, "coverage": float(inside.mean()), "width": float(width.mean())}

    def _series_windows(self, s, split: str, stride: int) -> dict | None:
        """One series' windows in ``split``: origins, the scaler, scaled targets ``y_z``, the
        model's point forecasts and intervals, and every baseline (scaled); None if none fits."""
        bounds = self._bounds(s)
        origins = window_origins(bounds, split, max(self._reach, self.season_), self.horizon, stride)
        if len(origins) == 0:
            return None
        scaler = self._scaler_for(s.key)
        inputs, known, targets = self._scaled(s, scaler)
        past, future, y_z = window_arrays(inputs, known, targets, origins, self._reach, self.horizon)
        point_z, iv_z = self._forecast(past, future)
        return {"origins": origins, "scaler": scaler, "y_z": y_z, "point_z": point_z, "iv_z": iv_z,
                "base_z": baseline_forecasts(targets, origins, self.horizon, self.context, self.season_),
                "train_end": bounds.train_end}

    def score(self, data) -> float:
        """Negative test MSE of what is served (greater is better, as scikit-learn expects)."""
        metrics = self.backtest(data).metrics
        return -metrics["served" if "served" in metrics else "model"]["mse"]

    # ------------------------------------------------------------- persistence
    def _restore(self, meta: dict) -> None:
        self.target_cols_, self.freq_, self.calendar_ = meta["target_cols"], meta["freq"], meta["calendar"]
        self.season_, self.n_series_ = meta["season"], meta.get("n_series", 1)
        self.scalers_ = {k: Scaler.from_dict(v) for k, v in meta["scalers"].items()}
        guard = meta.get("guard")
        self.guard_ = None if guard is None else BaselineGuard.from_dict(guard)


__all__ = ["Forecaster", "Backtest", "ForecastTask", "TASK"]
