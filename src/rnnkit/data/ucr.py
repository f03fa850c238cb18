"""Readers for the UCR/UEA time-series classification archives.

* ``.tsv`` (UCR 2018): one series per line, the class label first, then the values,
  tab-separated; shorter series are right-padded with ``NaN``.
* ``.ts`` (sktime/aeon format, UEA multivariate archive): ``@`` header lines, then after
  ``@data`` one case per line: each dimension's comma-separated values, dimensions
  separated by ``:``, the class label last; ``?`` marks a missing value; lengths may differ.

Both give a :class:`SeriesDataset` of float32 arrays shaped ``(time, channels)``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.finite import check_finite
from rnnkit.data.text import iter_lines, read_text
from rnnkit.errors import DataError


@dataclass
class SeriesDataset:
    """Variable-length multivariate series with string class labels."""

    series: list[np.ndarray]  # each (T_i, C), float32
    labels: list[str]
    name: str = ""

    def __len__(self) -> int:
        return len(self.series)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.series], dtype=np.int64)

    @property
    def channels(self) -> int:
        return self.series[0].shape[1]

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X (N, T_max, C) zero-padded on the right, lengths (N,))``."""
        lengths = self.lengths
        out = np.zeros((len(self), int(lengths.max()), self.channels), dtype=np.float32)
        for i, s in enumerate(self.series):
            out[i, : len(s)] = s
        return out, lengths


def _label(token: str) -> str:
    """``"1.0"`` and ``"1"`` name the same class; other labels are kept as written."""
    token = token.strip()
    try:
        value = float(token)
    except ValueError:
        return token
    return str(int(value)) if math.isfinite(value) and value == int(value) else token


def _fill_interior(values: np.ndarray, missing: str, where: str) -> np.ndarray:
    """Handle NaNs left inside a series after trailing padding was removed."""
    nan = np.isnan(values)
    if not nan.any():
        return values
    if missing == "error":
        raise DataError(f"{where} has missing values inside the series; pass missing='interpolate' "
                        f"(--missing interpolate) to fill them linearly")
    idx = np.arange(len(values))
    if nan.all():
        raise DataError(f"{where} has no values")
    values = values.copy()
    values[nan] = np.interp(idx[nan], idx[~nan], values[~nan])
    return values


def read_ucr_tsv(path: str | os.PathLike, missing: str = "error") -> SeriesDataset:
    """A UCR 2018 ``.tsv`` file (label, then values; trailing ``NaN`` = shorter series)."""
    path = Path(path)
    series: list[np.ndarray] = []
    labels: list[str] = []
    for lineno, line in enumerate(iter_lines(read_text(path)), 1):
        if not line.strip():
            continue
        # UCR 2018 uses tabs; the older archive used commas or spaces.
        fields = line.split("\t") if "\t" in line else line.split(",") if "," in line else line.split()
        if len(fields) < 2:
            raise DataError(f"{path}, line {lineno}: expected a label followed by values")
        try:
            values = np.array([float(v) if v.strip() else math.nan for v in fields[1:]], dtype=np.float64)
        except ValueError:
            bad = next(v for v in fields[1:] if not _is_number(v))
            raise DataError(f"{path}, line {lineno}: non-numeric value {bad.strip()!r}") from None
        check_finite(values, f"{path}, line {lineno}")
        valid = np.flatnonzero(~np.isnan(values))
        if len(valid) == 0:
            raise DataError(f"{path}, line {lineno}: the series has no values")
        values = _fill_interior(values[: valid[-1] + 1], missing, f"{path}, line {lineno}")
        series.append(values.astype(np.float32)[:, None])
        labels.append(_label(fields[0]))
    if not series:
        raise DataError(f"{path} holds no series")
    return SeriesDataset(series, labels, path.stem.replace("_TRAIN", "").replace("_TEST", ""))


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return not v.strip()


def read_ts(path: str | os.PathLike, missing: str = "error") -> SeriesDataset:
    """A sktime/aeon ``.ts`` file (univariate or multivariate, equal or unequal length)."""
    path = Path(path)
    header: dict[str, str] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for lineno, raw in enumerate(iter_lines(read_text(path)), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DataError(f"{path}, line {lineno}: expected an @ header line or @data")
            key, _, value = line[1:].partition(" ")
            key = key.lower()
            if key == "data":
                in_data = True
            else:
                header[key] = value.strip()
            continue
        has_labels = header.get("classlabel", "false").split(" ")[0].lower() == "true"
        parts = line.split(":")
        if has_labels:
            parts, label = parts[:-1], parts[-1]
        else:
            label = ""
        dims = []
        for d, part in enumerate(parts):
            if part.strip().startswith("("):
                raise DataError(f"{path}: timestamped .ts files are not supported (line {lineno})")
            try:
                values = np.array([math.nan if v.strip() in ("?", "NaN", "nan", "") else float(v)
                                   for v in part.split(",")], dtype=np.float64)
            except ValueError:
                raise DataError(f"{path}, line {lineno}, dimension {d + 1}: non-numeric value") from None
            check_finite(values, f"{path}, line {lineno}, dimension {d + 1}")
            valid = np.flatnonzero(~np.isnan(values))
            if len(valid) == 0:
                raise DataError(f"{path}, line {lineno}, dimension {d + 1}: no values")
            dims.append(_fill_interior(values[: valid[-1] + 1], missing, f"{path}, line {lineno}"))
        if series and len(dims) != series[0].shape[1]:
            raise DataError(f"{path}, line {lineno}: {len(dims)} dimensions, earlier cases have {series[0].shape[1]}")
        length = max(len(d) for d in dims)
        if any(len(d) != length for d in dims):
            raise DataError(f"{path}, line {lineno}: dimensions of one case differ in length")
        series.append(np.stack(dims, axis=1).astype(np.float32))
        labels.append(_label(label))
    if not in_data:
        raise DataError(f"{path} has no @data section; is it a .ts file?")
    if not series:
        raise DataError(f"{path} holds no series")
    return SeriesDataset(series, labels, header.get("problemname", path.stem))


def read_series_file(path: str | os.PathLike, missing: str = "error") -> SeriesDataset:
    """Dispatch on the extension: ``.ts`` or UCR ``.tsv``/``.txt``."""
    path = Path(path)
    if path.suffix.lower() == ".ts":
        return read_ts(path, missing)
    if path.suffix.lower() in (".tsv", ".txt", ".csv"):
        return read_ucr_tsv(path, missing)
    raise DataError(f"{path}: unknown series format {path.suffix!r}; use a UCR .tsv or a .ts file")
