"""Reading tables of series: each usual problem of a user's file is a clear error or an option."""

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.time_table import calendar_features, calendar_names, prepare_series, read_table
from rnnkit.errors import ConfigError, DataError


def hourly(n=10, start="2021-03-01 00:00", **cols):
    df = pd.DataFrame({"date": pd.date_range(start, periods=n, freq="h").strftime("%Y-%m-%d %H:%M")})
    for k, v in cols.items():
        df[k] = v
    return df


def test_day_first_unsorted_rows_are_parsed_and_sorted():
    df = pd.DataFrame({"Datetime": ["31-12-2002 02:00", "31-12-2002 01:00", "01-01-2003 00:00", "31-12-2002 23:00"],
                       "MW": [2.0, 1.0, 4.0, 3.0]})
    with pytest.raises(DataError, match="missing timestamp"):
        prepare_series(df, "Datetime", ["MW"], dayfirst=True)
    s = prepare_series(df, "Datetime", ["MW"], dayfirst=True, fill="interpolate").series[0]
    assert s.times[0] == pd.Timestamp("2002-12-31 01:00") and s.times[-1] == pd.Timestamp("2003-01-01 00:00")
    assert len(s) == 24 and s.targets[0, 0] == 1.0 and s.targets[1, 0] == 2.0 and s.targets[-1, 0] == 4.0
    # interpolated in time between 02:00 (2.0) and 23:00 (3.0)
    np.testing.assert_allclose(s.targets[2:22, 0], 2.0 + np.arange(1, 21) / 21, rtol=1e-6)


def test_explicit_time_format():
    df = pd.DataFrame({"t": ["05/01/2020", "06/01/2020", "07/01/2020"], "y": [1, 2, 3]})
    s = prepare_series(df, "t", ["y"], time_format="%d/%m/%Y").series[0]
    assert list(s.times.day) == [5, 6, 7]
    with pytest.raises(DataError, match="cannot parse time column 't'"):
        prepare_series(df, "t", ["y"], time_format="%Y-%m-%d")


def test_duplicated_timestamps_error_or_merge():
    df = hourly(4, y=[1.0, 2.0, 3.0, 4.0])
    df.loc[2, "date"] = df.loc[1, "date"]  # 01:00 twice, 02:00 missing
    with pytest.raises(DataError, match="1 duplicated timestamp"):
        prepare_series(df, "date", ["y"])
    sset = prepare_series(df, "date", ["y"], duplicates="mean", fill="interpolate")
    assert sset.series[0].targets[:, 0].tolist() == [1.0, 2.5, 3.25, 4.0]
    assert any("merged (mean)" in r for r in sset.report)
    last = prepare_series(df, "date", ["y"], duplicates="last", fill="ffill").series[0]
    assert last.targets[:, 0].tolist() == [1.0, 3.0, 3.0, 4.0]


def test_missing_values_error_or_fill():
    df = hourly(5, y=[1.0, np.nan, np.nan, 4.0, 5.0])
    with pytest.raises(DataError, match="2 missing value"):
        prepare_series(df, "date", ["y"])
    assert prepare_series(df, "date", ["y"], fill="ffill").series[0].targets[:, 0].tolist() == [1, 1, 1, 4, 5]
    assert prepare_series(df, "date", ["y"], fill="interpolate").series[0].targets[:, 0].tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(DataError, match="no values at all"):
        prepare_series(hourly(3, y=[1.0, 2, 3], z=[np.nan] * 3), "date", ["y"], past_covariates=["z"], fill="ffill")


def test_column_problems_are_named():
    with pytest.raises(DataError, match="column 'y' is not numeric: 1 value"):
        prepare_series(hourly(3, y=["1", "two", "3"]), "date", ["y"])
    with pytest.raises(DataError, match="no column 'nope'"):
        prepare_series(hourly(3, y=[1, 2, 3]), "date", ["nope"])
    with pytest.raises(ConfigError, match="two roles"):
        prepare_series(hourly(3, y=[1, 2, 3]), "date", ["y"], past_covariates=["y"])
    with pytest.raises(ConfigError, match="--time-col"):
        prepare_series(pd.DataFrame({"a": [1], "b": [2]}), None)
    with pytest.raises(ConfigError, match="fill must be one of"):
        prepare_series(hourly(3, y=[1, 2, 3]), "date", ["y"], fill="zero")


def test_default_targets_and_time_column_guess():
    sset = prepare_series(hourly(3, a=[1, 2, 3], b=[4.0, 5, 6], name=["x", "y", "z"]), None)
    assert sset.target_cols == ["a", "b"] and sset.series[0].targets.shape == (3, 2)


def test_series_id_column_splits_series_and_checks_each():
    df = pd.concat([hourly(4, y=[1.0, 2, 3, 4], site="a"), hourly(3, y=[7.0, 8, 9], site="b",
                                                                   start="2021-05-01")])
    sset = prepare_series(df, "date", ["y"], id_col="site")
    assert [s.key for s in sset.series] == ["a", "b"] and [len(s) for s in sset.series] == [4, 3]
    bad = pd.concat([df, hourly(1, y=[5.0], site="b", start="2021-05-01 05:00")])
    with pytest.raises(DataError, match="in series 'b'"):
        prepare_series(bad, "date", ["y"], id_col="site")


def test_calendar_features_by_hand():
    assert calendar_names(pd.Timedelta("1h")) == ["hour_sin", "hour_cos", "weekday_sin", "weekday_cos",
                                                   "yearday_sin", "yearday_cos"]
    assert calendar_names(pd.Timedelta("1D")) == ["weekday_sin", "weekday_cos", "yearday_sin", "yearday_cos"]
    t = pd.DatetimeIndex(["2021-03-01 06:00", "2021-03-01 18:00"])
    f = calendar_features(t, ["hour_sin", "hour_cos"])
    np.testing.assert_allclose(f, [[1, 0], [-1, 0]], atol=1e-6)


def test_read_table_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "latin.csv").write_bytes("date,y\n2021-01-01,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_table(tmp_path / "latin.csv")
    (tmp_path / "header.csv").write_text("date,y\n")
    with pytest.raises(DataError, match="no rows"):
        read_table(tmp_path / "header.csv")


def test_parquet_reads_like_csv(tmp_path):
    pytest.importorskip("pyarrow")
    df = hourly(5, y=[1.0, 2, 3, 4, 5])
    df["date"] = pd.to_datetime(df["date"])
    df.to_parquet(tmp_path / "s.parquet")
    s = prepare_series(read_table(tmp_path / "s.parquet"), "date", ["y"]).series[0]
    assert s.targets[:, 0].tolist() == [1, 2, 3, 4, 5] and s.times[1] == pd.Timestamp("2021-03-01 01:00")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="cannot read"):
        read_table(tmp_path / "bad.parquet")
