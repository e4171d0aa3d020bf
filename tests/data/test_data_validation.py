"""Every LongFrameError / ParameterError raised while reading a long frame, by message."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import polars as pl
import pytest

from latentode.data import LongFrameEncoder, LongFrameSpec
from latentode.exceptions import LongFrameError, ParameterError


def _fit(df: object, **kwargs: object) -> LongFrameEncoder:
    return LongFrameEncoder(**kwargs).fit(df)  # type: ignore[arg-type]


def _small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b", "c"],
            "ds": [0.0, 1.0, 0.0, 2.0, 5.0],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )


def test_not_a_frame() -> None:
    with pytest.raises(LongFrameError, match=r"Expected a pandas\.DataFrame.*Got numpy\.ndarray"):
        _fit(np.zeros((3, 3)))


def test_empty_frame() -> None:
    with pytest.raises(LongFrameError, match=r"Expected at least one row .* got an empty frame"):
        _fit(_small().iloc[:0])
    with pytest.raises(LongFrameError, match="got an empty frame"):
        _fit(pl.from_pandas(_small()).head(0))


@pytest.mark.parametrize(
    ("drop", "match"),
    [
        ("unique_id", r"The id column 'unique_id' is missing .*available columns: \['ds', 'y'\]"),
        ("ds", r"The time column 'ds' is missing .*available columns: \['unique_id', 'y'\]"),
    ],
)
def test_missing_id_or_time_column(drop: str, match: str) -> None:
    with pytest.raises(LongFrameError, match=match):
        _fit(_small().drop(columns=drop))


def test_missing_feature_column_from_spec() -> None:
    spec = LongFrameSpec(feature_cols=("y", "temp"))
    with pytest.raises(LongFrameError, match=r"Feature column\(s\) \['temp'\] are missing"):
        _fit(_small(), spec=spec)


def test_no_feature_column() -> None:
    with pytest.raises(LongFrameError, match="at least one feature column"):
        _fit(_small().drop(columns="y"))


def test_non_numeric_feature_column() -> None:
    df = _small().assign(label=["x", "y", "z", "w", "v"])
    with pytest.raises(
        LongFrameError, match=re.escape("Feature column 'label' must be numeric; got dtype ")
    ):
        _fit(df)
    df = _small().astype({"y": object})
    with pytest.raises(
        LongFrameError, match=re.escape("Feature column 'y' must be numeric; got dtype object.")
    ):
        _fit(df)


def test_non_numeric_time_column() -> None:
    df = _small().assign(ds=["2024-01-0" + str(i) for i in range(1, 6)])
    with pytest.raises(
        LongFrameError,
        match=r"The time column 'ds' .* must be numeric or datetime64; got dtype str.*to_datetime",
    ):
        _fit(df)


def test_null_ids() -> None:
    df = _small()
    df.loc[[0, 3, 4], "unique_id"] = None
    with pytest.raises(LongFrameError, match=r"The id column 'unique_id' .* has 3 null value"):
        _fit(df)


def test_null_times_name_series_and_count() -> None:
    df = _small()
    df.loc[[1, 2], "ds"] = np.nan
    with pytest.raises(LongFrameError, match=r"has 2 null value\(s\) in 2 series \('a', 'b'\)"):
        _fit(df)
    dt = _small().assign(ds=pd.to_datetime(["2024-01-01"] * 5) + pd.to_timedelta(range(5), "D"))
    dt.loc[4, "ds"] = pd.NaT
    with pytest.raises(LongFrameError, match=r"1 null value\(s\) in 1 series \('c'\)"):
        _fit(dt)


def test_infinite_times() -> None:
    df = _small()
    df.loc[0, "ds"] = np.inf
    with pytest.raises(LongFrameError, match=r"1 infinite value\(s\) in 1 series \('a'\)"):
        _fit(df)


def test_infinite_features_name_column_series_and_count() -> None:
    df = _small().assign(z=[0.0, 1.0, 2.0, 3.0, 4.0])
    df.loc[[2, 3], "z"] = [np.inf, -np.inf]
    df.loc[4, "z"] = np.inf
    with pytest.raises(
        LongFrameError,
        match=r"Feature column 'z' has 3 infinite value\(s\) in 2 series \('b', 'c'\)",
    ):
        _fit(df)


def test_nan_features_are_fine() -> None:
    df = _small()
    df.loc[1, "y"] = np.nan
    assert _fit(df).transform(df).n_observations == 4


def test_series_without_observation() -> None:
    df = _small()
    df.loc[[2, 3], "y"] = np.nan
    with pytest.raises(LongFrameError, match=r"1 series have no observed value .*: 'b'\."):
        _fit(df)
    many = pd.DataFrame(
        {"unique_id": [f"s{i}" for i in range(8)], "ds": 0.0, "y": [np.nan] * 7 + [1.0]}
    )
    with pytest.raises(
        LongFrameError,
        match=r"7 series have no observed value .*'s0', 's1', 's2', 's3', 's4' and 2 more",
    ):
        _fit(many)


def test_duplicate_timestamps_are_rejected() -> None:
    df = pd.concat([_small(), _small().iloc[[3, 3, 0]]], ignore_index=True)
    with pytest.raises(LongFrameError) as info:
        _fit(df)
    msg = str(info.value)
    assert "Series 'a' has 2 rows at timestamp 0.0" in msg
    assert "(3 duplicated row(s) in 2 series in total)" in msg
    assert "df.groupby(['unique_id', 'ds'], as_index=False).mean()" in msg


def test_duplicate_datetimes_are_rejected() -> None:
    df = _small().assign(ds=pd.to_datetime(["2024-01-01", "2024-01-02"] * 2 + ["2024-01-01"]))
    df.loc[3, "ds"] = pd.Timestamp("2024-01-01")
    with pytest.raises(LongFrameError, match=r"Series 'b' has 2 rows at timestamp 2024-01-01"):
        _fit(df)


def test_unsorted_is_not_an_error() -> None:
    df = _small().iloc[::-1]
    data = _fit(df).transform(df)
    assert all((np.diff(s.times) > 0).all() for s in data)


def test_transform_with_missing_fitted_feature() -> None:
    enc = _fit(_small().assign(z=1.0))
    with pytest.raises(
        LongFrameError, match=r"Feature column\(s\) \['z'\] seen in fit are missing"
    ):
        enc.transform(_small())


def test_transform_with_another_time_kind() -> None:
    enc = _fit(_small())
    dt = _small().assign(ds=pd.to_datetime(["2024-01-01", "2024-01-02"] * 2 + ["2024-01-03"]))
    with pytest.raises(
        LongFrameError, match=r"The time column 'ds' of the frame must be numeric like the one"
    ):
        enc.transform(dt)
    enc_dt = _fit(dt)
    with pytest.raises(LongFrameError, match=r"must be datetime like the one seen in fit"):
        enc_dt.transform(_small())
    with pytest.raises(LongFrameError, match=r"Expected tz-naive datetimes"):
        enc_dt.transform(dt.assign(ds=dt["ds"].dt.tz_localize("UTC")))


def test_repeated_column_names() -> None:
    df = pd.concat([_small(), _small()[["y"]]], axis=1)
    with pytest.raises(LongFrameError, match=r"Column name\(s\) \['y'\] appear more than once"):
        _fit(df)


def test_invalid_time_unit_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="'time_unit' parameter must be None or one of"):
        _fit(_small(), time_unit="days")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"id_col": ""}, "'id_col' of LongFrameSpec must be a non-empty str"),
        ({"id_col": "t", "time_col": "t"}, "must differ"),
        ({"feature_cols": "y"}, r"Got the string 'y'; write \('y',\)"),
        ({"feature_cols": ()}, "at least one column"),
        ({"feature_cols": ("y", "y")}, "must be distinct"),
        ({"feature_cols": ("ds",)}, "must not include the id or time column"),
    ],
)
def test_spec_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(LongFrameError, match=match):
        LongFrameSpec(**kwargs)  # type: ignore[arg-type]


def test_polars_input_is_validated_too(make_long: Callable[..., pd.DataFrame]) -> None:
    df = make_long()
    df.loc[0, "y"] = np.inf
    with pytest.raises(LongFrameError, match=r"Feature column 'y' has 1 infinite value"):
        _fit(pl.from_pandas(df))
