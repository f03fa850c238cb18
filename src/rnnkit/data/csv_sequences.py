"""Labelled sequences from a CSV file with a header row, in one of two layouts.

* **wide** (default): one sequence per row; the ``label`` column holds its class and
  every other column is one time step of a univariate series. Empty cells at the end
  of a row make that series shorter (as the UCR files' trailing ``NaN``).
* **long** (``id_column`` given): one time step per row; rows sharing an id form one
  sequence, in file order or sorted by ``time_column``; every column other than id,
  time and label is a feature (multivariate series). The label must not change
  within a sequence.

Both give a :class:`~rnnkit.data.ucr.SeriesDataset`. Parsing is pandas'; the checks
(non-numeric or empty columns, NaN inside a series, inconsistent labels) turn bad files
into one-line :class:`~rnnkit.errors.DataError` messages.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rnnkit.data.finite import check_finite
from rnnkit.data.text import read_text
from rnnkit.data.ucr import SeriesDataset, _fill_interior, _label
from rnnkit.errors import DataError


def _frame(path: Path):
    import io

    import pandas as pd

    text = read_text(path)  # clear errors for missing, empty and non-UTF-8 files
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"{path}: not a valid CSV file ({str(e).splitlines()[0]})") from None


def _numeric(values: np.ndarray, where: str) -> np.ndarray:
    """Strings -> float64; empty cells and NaN -> NaN; anything else non-numeric is an error."""
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        v = v.strip()
        if v == "" or v.lower() == "nan":
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except ValueError:
            raise DataError(f"{where}: non-numeric value {v!r}") from None
    check_finite(out, where)
    return out


def read_sequence_csv(path: str | os.PathLike, label_column: str = "label", id_column: str | None = None,
                      time_column: str | None = None, missing: str = "error") -> SeriesDataset:
    """Read labelled sequences from ``path`` (see the module docstring for the layouts)."""
    path = Path(path)
    df = _frame(path)
    if label_column not in df.columns:
        raise DataError(f"{path}: no {label_column!r} column (columns: {', '.join(map(str, df.columns[:8]))}); "
                        f"name the label column with --label-column")
    if len(df) == 0:
        raise DataError(f"{path} holds no rows")
    series, labels = [], []
    if id_column is None:
        value_columns = [c for c in df.columns if c != label_column]
        if not value_columns:
            raise DataError(f"{path}: no value columns beside {label_column!r}")
        for row, (label, values) in enumerate(zip(df[label_column], df[value_columns].to_numpy()), 2):
            where = f"{path}, line {row}"
            x = _numeric(values, where)
            valid = np.flatnonzero(~np.isnan(x))
            if len(valid) == 0:
                raise DataError(f"{where}: the series has no values")
            series.append(_fill_interior(x[: valid[-1] + 1], missing, where).astype(np.float32)[:, None])
            labels.append(_label(label))
    else:
        for column in (id_column, time_column):
            if column is not None and column not in df.columns:
                raise DataError(f"{path}: no {column!r} column")
        features = [c for c in df.columns if c not in (label_column, id_column, time_column)]
        if not features:
            raise DataError(f"{path}: no feature columns beside id, time and label")
        for key, group in df.groupby(id_column, sort=False):
            if time_column is not None:
                group = group.iloc[np.argsort(_numeric(group[time_column].to_numpy(), f"{path}, {time_column}"),
                                              kind="stable")]
            where = f"{path}, sequence {key!r}"
            if group[label_column].nunique() != 1:
                raise DataError(f"{where}: the label changes within the sequence")
            cols = [_fill_interior(_numeric(group[c].to_numpy(), f"{where}, column {c!r}"), missing,
                                   f"{where}, column {c!r}") for c in features]
            series.append(np.stack(cols, axis=1).astype(np.float32))
            labels.append(_label(group[label_column].iloc[0]))
    return SeriesDataset(series, labels, path.stem)
