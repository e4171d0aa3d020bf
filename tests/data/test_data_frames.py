from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest

from latentode.data import frame_library, from_pandas, to_pandas
from latentode.exceptions import LongFrameError


def test_frame_library_names_pandas_and_polars(long_df: pd.DataFrame) -> None:
    assert frame_library(long_df) == "pandas"
    assert frame_library(pl.from_pandas(long_df)) == "polars"


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        (np.zeros((3, 2)), r"Got numpy\.ndarray"),
        ({"unique_id": [1]}, r"Got builtins\.dict"),
        (pd.Series([1.0]), r"to_frame"),
        (pl.LazyFrame({"a": [1]}), r"collect"),
    ],
)
def test_frame_library_rejects_non_frames(obj: object, match: str) -> None:
    with pytest.raises(LongFrameError, match=r"Expected a pandas\.DataFrame or polars"):
        frame_library(obj)
    with pytest.raises(LongFrameError, match=match):
        frame_library(obj)


def test_to_pandas_returns_a_copy(long_df: pd.DataFrame) -> None:
    before = long_df.copy(deep=True)
    out = to_pandas(long_df)
    assert out is not long_df
    out.loc[0, "y"] = -999.0
    pd.testing.assert_frame_equal(long_df, before)


@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Paris"])
def test_polars_datetimes_round_trip(tz: str | None) -> None:
    frame = pl.DataFrame(
        {
            "unique_id": ["a", "a", "b"],
            "ds": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, 3), dt.datetime(2024, 2, 1)],
            "y": [1.0, None, 3.0],
        }
    )
    if tz is not None:
        frame = frame.with_columns(pl.col("ds").dt.replace_time_zone(tz))
    pdf = to_pandas(frame)
    assert pd.api.types.is_datetime64_any_dtype(pdf["ds"])
    back = from_pandas(pdf, "polars")
    assert back.schema == frame.schema
    assert back.equals(frame)


def test_from_pandas_pandas_resets_index(long_df: pd.DataFrame) -> None:
    shuffled = long_df.sample(frac=1.0, random_state=0)
    out = from_pandas(shuffled, "pandas")
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == list(range(len(shuffled)))


def test_from_pandas_rejects_unknown_library(long_df: pd.DataFrame) -> None:
    with pytest.raises(LongFrameError, match=r"must be 'pandas' or 'polars'. Got 'arrow'"):
        from_pandas(long_df, "arrow")  # type: ignore[arg-type]
