"""``ForecasterStream``: a fitted :class:`~rnnkit.Forecaster` fed one observation at a time,
in the data's own units.

Each :meth:`ForecasterStream.update` takes a timestamp and the row's values (targets,
past covariates, known covariates, by column name), scales them with the series'
training scaler, adds the calendar features of the timestamp, and appends the row to a
:class:`~rnnkit.inference.ForecastStream`. :meth:`ForecasterStream.forecast` answers as
``Forecaster.predict`` would on the rows seen so far (tested to be equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnkit.data.time_table import calendar_features
from rnnkit.errors import ConfigError
from rnnkit.inference import ForecastStream

if TYPE_CHECKING:
    from rnnkit.tasks.forecast import Forecaster


class ForecasterStream(ForecastStream):
    """One series of a fitted forecaster (``key``: its id when it was fitted on several).

    The state adds ``time`` (1, 1) int64: the last timestamp seen, in nanoseconds since 1970
    (-1 before the first observation).
    """

    family = "forecaster (raw units)"

    def __init__(self, forecaster: Forecaster, key: str = "") -> None:
        self.forecaster = forecaster
        self.scaler = forecaster._scaler_for(key)
        self.columns = [*forecaster.target_cols_, *forecaster.past_covariates, *forecaster.known_covariates]
        self.last_time: Any = None
        super().__init__(forecaster.model_, forecaster._reach, 1)

    def update(self, rows, time: Any = None) -> None:
        """Append one observation: ``rows`` a mapping ``{column: value}`` (or the values in
        the order targets, past covariates, known covariates) observed at ``time``."""
        import pandas as pd

        if time is None:
            raise ConfigError("a forecaster update needs the observation's time")
        if isinstance(rows, Mapping):
            missing = [c for c in self.columns if c not in rows]
            if missing:
                raise ConfigError(f"the observation lacks {', '.join(map(repr, missing))}")
            values = np.array([rows[c] for c in self.columns], dtype=np.float64)
        else:
            values = np.asarray(rows, dtype=np.float64).reshape(-1)
            if len(values) != len(self.columns):
                raise ConfigError(f"an observation has {len(self.columns)} values ({', '.join(self.columns)}), "
                                  f"got {len(values)}")
        stamp = pd.Timestamp(time)
        if self.last_time is not None and stamp <= self.last_time:
            raise ConfigError(f"observations must move forward in time: {stamp} after {self.last_time}")
        z = self.scaler.transform(values[None])
        calendar = calendar_features(pd.DatetimeIndex([stamp]), self.forecaster.calendar_)
        super().update(np.concatenate([z, calendar], 1).astype(np.float32))
        self.last_time = stamp

    def forecast(self, future=None):
        """A DataFrame like ``Forecaster.predict``: the next ``horizon`` times, one column per
        target (and ``TARGET_lower``/``TARGET_upper`` for probabilistic forecasters).
        ``future``: the known covariates over the horizon, (horizon, k) or a DataFrame."""
        import pandas as pd
        import torch

        f = self.forecaster
        if self.last_time is None:
            raise ConfigError("no observation yet")
        times = pd.date_range(self.last_time, periods=f.horizon + 1, freq=pd.Timedelta(f.freq_))[1:]
        known = calendar_features(times, f.calendar_)
        k_user = len(f.known_covariates)
        if k_user:
            if future is None:
                raise ConfigError(f"this forecaster needs {', '.join(f.known_covariates)} over the next "
                                  f"{f.horizon} steps")
            user = (future[list(f.known_covariates)].to_numpy(np.float64) if isinstance(future, pd.DataFrame)
                    else np.asarray(future, np.float64).reshape(len(future), -1))
            if user.shape != (f.horizon, k_user):
                raise ConfigError(f"future covariates are ({f.horizon}, {k_user}), got {user.shape}")
            z = (user - self.scaler.loc[-k_user:]) / self.scaler.scale[-k_user:]
            known = np.concatenate([z, known], 1)
        out = torch.from_numpy(super().forecast(known[None].astype(np.float32)))
        model = self.model
        point_z = model.point(out).numpy()
        iv = model.intervals(out)
        # the baseline guard's forecast, from the rows the model reads (the window's targets)
        targets_z = self.window[0, :, :len(f.target_cols_)].astype(np.float64)
        served = f._served(point_z, targets_z, np.array([len(targets_z)]))
        if served is not None:
            point_z, iv = served, None
        point = f._unscale(self.scaler, point_z[0])
        frame: dict[str, Any] = {"time": times}
        for j, col in enumerate(f.target_cols_):
            frame[col] = point[:, j]
            if iv is not None:
                frame[f"{col}_lower"] = f._unscale(self.scaler, iv[0].numpy()[0])[:, j]
                frame[f"{col}_upper"] = f._unscale(self.scaler, iv[1].numpy()[0])[:, j]
        return pd.DataFrame(frame)

    def step(self, rows, time: Any = None, future=None):  # type: ignore[override]
        self.update(rows, time)
        return self.forecast(future)

    def state_dict(self) -> dict[str, np.ndarray]:
        state = super().state_dict()
        state["time"] = np.array([[-1 if self.last_time is None else self.last_time.value]], np.int64)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        import pandas as pd

        state = dict(state)
        time = np.asarray(state.pop("time", np.array([[-1]], np.int64)))
        if time.shape != (1, 1) or time.dtype != np.int64:
            raise ConfigError(f"state 'time' must be int64 of shape (1, 1), got {time.dtype} of shape {time.shape}")
        super().load_state_dict(state)
        ns = int(time[0, 0])
        self.last_time = None if ns < 0 else pd.Timestamp(ns)


__all__ = ["ForecasterStream"]
