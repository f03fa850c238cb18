"""Tables of time series (CSV or Parquet) -> clean, regular, numeric series.

What a forecaster needs from a user's file, and the checks that turn its usual problems
into one clear message each:

* the time column is parsed (``time_format`` or ``dayfirst`` for ``31-12-2002 01:00``),
  rows are sorted (a file need not be), and the step between rows is inferred (the most
  common difference) or given;
* duplicated timestamps are an error, or are merged (``duplicates="mean"|"first"|"last"``);
* missing timestamps (gaps) and missing values are an error, or are filled
  (``fill="interpolate"|"ffill"``), and the message counts them;
* target and covariate columns must be numeric;
* with ``id_col``, each series is handled on its own.

The result, :class:`SeriesSet`, holds per series ``times`` (DatetimeIndex), ``targets``
``(N, n_targets)``, past-observed covariates ``(N, n_past)`` and known-future covariates
``(N, n_known)``, all float32, plus what is needed to extend known-future calendar features
beyond the end of the data.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.finite import check_finite
from rnnkit.errors import ConfigError, DataError

FILLS = ("interpolate", "ffill")
DUPLICATES = ("error", "mean", "first", "last")


def read_table(path: str | Path):
    """A pandas DataFrame from a ``.csv`` (any delimiter pandas sniffs: comma by default) or
    ``.parquet`` file; a user error for a missing, empty or unreadable file."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a table")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except ImportError:
        raise DataError(f"reading {path.suffix} files needs pyarrow: pip install 'rnnkit[parquet]'") from None
    except (pd.errors.ParserError, ValueError, OSError) as e:
        raise DataError(f"cannot read {path}: {str(e).splitlines()[0]}") from None
    if df.empty:
        raise DataError(f"{path} has a header but no rows")
    return df


@dataclass
class Series:
    """One regular series: row ``i`` is time ``times[i]``."""

    key: str  # the series id ("" when the table has one series)
    times: Any  # pandas DatetimeIndex
    targets: np.ndarray  # (N, n_targets) float32
    past: np.ndarray  # (N, n_past) float32: observed covariates, unknown in the future
    known: np.ndarray  # (N, n_known) float32: user's known-future covariates and calendar features

    def __len__(self) -> int:
        return len(self.times)


@dataclass
class SeriesSet:
    """Every series of a table, with the column roles and the time step."""

    series: list[Series]
    target_cols: list[str]
    past_cols: list[str]
    known_cols: list[str]  # the user's known-future columns; calendar features come after them
    calendar: list[str]  # names of derived calendar features
    freq: Any  # pandas Timedelta: the step between rows
    report: list[str] = field(default_factory=list)  # what was fixed (duplicates merged, gaps filled)

    @property
    def n_known(self) -> int:
        return len(self.known_cols) + len(self.calendar)


# ---------------------------------------------------------------- calendar features
_CALENDAR = {  # name -> (period, function of a DatetimeIndex giving the position in the period)
    "hour": (24, lambda t: t.hour + t.minute / 60),
    "weekday": (7, lambda t: t.day_of_week + t.hour / 24),
    "yearday": (366, lambda t: t.day_of_year - 1),
    "month": (12, lambda t: t.month - 1),
}


def parse_step(freq: Any):
    """A time step as pandas reads it (``"1h"``, ``"15min"``, a Timedelta); a one-line
    :class:`ConfigError` for anything else."""
    import pandas as pd

    try:
        step = pd.Timedelta(freq)
    except (ValueError, TypeError):
        raise ConfigError(f"unknown time step (freq) {freq!r}; use a step such as 1h, 15min or 1D") from None
    if pd.isna(step) or step <= pd.Timedelta(0):
        raise ConfigError(f"the time step (freq) must be positive, got {freq!r}")
    return step


def calendar_names(freq) -> list[str]:
    """Calendar features that vary at this step: hour of day only below a day, and so on.
    Each is a (sin, cos) pair, so 23:00 is next to 00:00."""
    import pandas as pd

    step = pd.Timedelta(freq)
    names = []
    if step < pd.Timedelta(days=1):
        names.append("hour")
    if step < pd.Timedelta(days=7):
        names.append("weekday")
    if step < pd.Timedelta(days=28):
        names.append("yearday")
    elif step < pd.Timedelta(days=365):
        names.append("month")
    return [f"{n}_{f}" for n in names for f in ("sin", "cos")]


def calendar_features(times, names: Sequence[str]) -> np.ndarray:
    """``(N, len(names))`` float32 sin/cos encodings of ``times`` (a DatetimeIndex)."""
    cols = []
    for name in names:
        base, fn = name.rsplit("_", 1)
        period, position = _CALENDAR[base]
        angle = 2 * np.pi * np.asarray(position(times), dtype=np.float64) / period
        cols.append(np.sin(angle) if fn == "sin" else np.cos(angle))
    return np.stack(cols, 1).astype(np.float32) if cols else np.zeros((len(times), 0), np.float32)


# ---------------------------------------------------------------- the table -> series
def parse_times(values, column: str, time_format: str | None = None, dayfirst: bool = False):
    """A DatetimeIndex; a user error that names the column and an example that fails."""
    import pandas as pd

    try:
        with warnings.catch_warnings():  # pandas warns when it guesses day-first; a wrong guess fails below
            warnings.simplefilter("ignore", UserWarning)
            return pd.DatetimeIndex(pd.to_datetime(values, format=time_format, dayfirst=dayfirst))
    except (ValueError, TypeError) as e:
        hint = "" if time_format else " (pass --time-format, e.g. '%d-%m-%Y %H:%M', or --dayfirst)"
        raise DataError(f"cannot parse time column {column!r}: {str(e).splitlines()[0]}{hint}") from None


def _numeric(df, cols: list[str], where: str):
    import pandas as pd

    out = {}
    for col in cols:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if bad.any():
            example = df[col][bad].iloc[0]
            raise DataError(f"column {col!r}{where} is not numeric: {int(bad.sum())} value(s) such as {example!r}")
        out[col] = values.astype("float64")
        check_finite(out[col].to_numpy(), f"column {col!r}{where}", axes=("data row",))
    return pd.DataFrame(out, index=df.index)


def step_name(step) -> str:
    """``1h``, ``15min``, ``1D``: a time step as people write it."""
    from pandas.tseries.frequencies import to_offset

    name = to_offset(step).freqstr
    return name if name[:1].isdigit() else f"1{name}"


def infer_step(times) -> object:
    """The most common difference between consecutive (sorted, unique) times."""
    import pandas as pd

    diffs = pd.Series(times[1:] - times[:-1])
    diffs = diffs[diffs > pd.Timedelta(0)]
    if diffs.empty:
        raise DataError("cannot infer the time step: fewer than two distinct timestamps")
    return diffs.mode().iloc[0]


def prepare_series(df, time_col: str | None, targets: Sequence[str] | None = None,
                   past_covariates: Sequence[str] = (), known_covariates: Sequence[str] = (),
                   id_col: str | None = None, time_format: str | None = None, dayfirst: bool = False,
                   duplicates: str = "error", fill: str | None = None, freq: str | None = None,
                   calendar: bool = True) -> SeriesSet:
    """Check and clean a DataFrame into regular numeric series (see the module docstring).

    ``time_col=None`` uses the index if it holds datetimes, else the one column whose name
    is ``date``, ``time``, ``datetime`` or ``timestamp`` (any case). ``targets=None``: every
    numeric column that is not the time, the id or a covariate.
    """
    import pandas as pd

    if duplicates not in DUPLICATES:
        raise ConfigError(f"duplicates must be one of {', '.join(DUPLICATES)}, got {duplicates!r}")
    if fill is not None and fill not in FILLS:
        raise ConfigError(f"fill must be one of {', '.join(FILLS)} (or none), got {fill!r}")
    df = df.copy()
    if time_col is None:
        if isinstance(df.index, pd.DatetimeIndex):
            time_col = df.index.name or "time"
            df = df.reset_index(names=time_col)
        else:
            guesses = [c for c in df.columns if str(c).lower() in ("date", "time", "datetime", "timestamp", "ds")]
            if len(guesses) != 1:
                raise ConfigError("which column holds the time? pass --time-col (Python: time_col=...)")
            time_col = guesses[0]
    past_covariates, known_covariates = list(past_covariates), list(known_covariates)
    roles = {time_col, *past_covariates, *known_covariates, *([id_col] if id_col else [])}
    missing = [c for c in [*roles, *(targets or [])] if c not in df.columns]
    if missing:
        raise DataError(f"no column {', '.join(map(repr, missing))} in the table; it has: "
                        f"{', '.join(map(str, df.columns))}")
    if targets is None:
        targets = [c for c in df.columns if c not in roles and pd.api.types.is_numeric_dtype(df[c])]
        if not targets:
            others = [str(c) for c in df.columns if c not in roles]
            raise DataError(f"no numeric column to forecast (columns: {', '.join(others) or 'none'}); "
                            "pass --target to name one and see what is wrong with it")
    targets = list(targets)
    overlap = set(targets) & roles
    if overlap:
        raise ConfigError(f"column {', '.join(map(repr, sorted(overlap)))} is given two roles")
    times = parse_times(df[time_col], time_col, time_format, dayfirst)
    if times.isna().any():
        raise DataError(f"time column {time_col!r} has {int(times.isna().sum())} empty value(s)")
    numeric = _numeric(df, [*targets, *past_covariates, *known_covariates], "")
    numeric["__time"] = times
    numeric["__id"] = df[id_col].astype(str).to_numpy() if id_col else ""
    report: list[str] = []
    groups = [(k, g) for k, g in numeric.groupby("__id", sort=True)]
    step = parse_step(freq) if freq else None
    if step is None:
        step = infer_step(pd.DatetimeIndex(np.unique(numeric["__time"].to_numpy())))
    names = calendar_names(step) if calendar else []
    value_cols = [*targets, *past_covariates, *known_covariates]
    out = []
    for key, g in groups:
        where = f" in series {key!r}" if id_col else ""
        g = g.sort_values("__time", kind="stable")
        dup = g["__time"].duplicated(keep=False)
        if dup.any():
            n_dup = int(g["__time"].duplicated().sum())
            if duplicates == "error":
                first = g.loc[dup, "__time"].iloc[0]
                raise DataError(f"{n_dup} duplicated timestamp(s){where}, first {first}; pass --duplicates "
                                f"mean|first|last to merge them")
            agg = {"mean": "mean", "first": "first", "last": "last"}[duplicates]
            g = g.groupby("__time", sort=True)[value_cols].agg(agg).reset_index()
            report.append(f"{n_dup} duplicated timestamp(s){where} merged ({duplicates})")
        t = pd.DatetimeIndex(g["__time"].to_numpy())
        full = pd.date_range(t[0], t[-1], freq=step)
        off_grid = t.difference(full)
        if len(off_grid):
            raise DataError(f"{len(off_grid)} timestamp(s){where} are off the {step_name(step)} grid, first {off_grid[0]}; "  # noqa: E501
                            f"pass --freq to set the step")
        values = g.set_index(pd.DatetimeIndex(g["__time"].to_numpy()))[value_cols].reindex(full)
        n_gaps = len(full) - len(t)
        n_nan = int(values.isna().to_numpy().sum())
        if n_nan:
            if fill is None:
                what = (f"{n_gaps} missing timestamp(s) (gaps in the {step_name(step)} grid)" if n_gaps else "")
                cells = n_nan - n_gaps * len(value_cols)
                what += (" and " if what and cells else "") + (f"{cells} missing value(s)" if cells else "")
                raise DataError(f"{what}{where}; pass --fill interpolate or --fill ffill")
            values = values.interpolate(method="time", limit_direction="both") if fill == "interpolate" \
                else values.ffill().bfill()
            report.append(f"{n_gaps} missing timestamp(s) and {n_nan} missing value(s){where} filled ({fill})")
            if values.isna().to_numpy().any():
                empty = [c for c in value_cols if values[c].isna().all()]
                raise DataError(f"column {', '.join(map(repr, empty))}{where} has no values at all")
        arr = values.to_numpy(dtype=np.float32)
        nt, npast = len(targets), len(past_covariates)
        known = np.concatenate([arr[:, nt + npast:], calendar_features(full, names)], axis=1)
        out.append(Series(str(key), full, arr[:, :nt], arr[:, nt:nt + npast], known))
    return SeriesSet(out, targets, past_covariates, known_covariates, names, step, report)


__all__ = ["read_table", "prepare_series", "Series", "SeriesSet", "calendar_features", "calendar_names",
           "parse_times", "infer_step", "FILLS", "DUPLICATES"]
