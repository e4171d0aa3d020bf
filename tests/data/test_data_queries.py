from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import polars as pl
import pytest

from latentode.data import LongFrameEncoder
from latentode.exceptions import LongFrameError, QueryError


@pytest.fixture
def fitted(make_long: Callable[..., pd.DataFrame]) -> tuple[LongFrameEncoder, pd.DataFrame]:
    df = make_long(n_series=4)
    return LongFrameEncoder().fit(df), df


def test_query_times_sorted_per_series_and_permutation(
    fitted: tuple[LongFrameEncoder, pd.DataFrame],
) -> None:
    enc, df = fitted
    data = enc.transform(df)
    at = pd.DataFrame(
        {
            "unique_id": ["s2", "s0", "s2", "s0", "s2", "s0"],
            "ds": [9.0, 3.0, 1.0, 3.0, 5.0, -1.0],
            "keep": list("abcdef"),
        }
    )
    before = at.copy(deep=True)
    times, frame = enc.query_times(at, data)
    pd.testing.assert_frame_equal(at, before)
    assert len(times) == len(data)
    assert times[1].size == 0 and times[3].size == 0
    expected_s0 = enc.time_.encode(pd.Series([-1.0, 3.0, 3.0]))
    np.testing.assert_array_equal(times[0], expected_s0)  # sorted, duplicates kept
    np.testing.assert_array_equal(times[2], enc.time_.encode(pd.Series([1.0, 5.0, 9.0])))
    # the frame keeps at's rows and order and points each row at its time
    pd.testing.assert_frame_equal(frame[["unique_id", "ds", "keep"]], before)
    assert frame["_series_idx"].tolist() == [2, 0, 2, 0, 2, 0]
    assert frame["_series_idx"].dtype == np.int64 and frame["_query_idx"].dtype == np.int64
    assert frame["_query_idx"].tolist() == [2, 1, 0, 2, 1, 0]
    for row in frame.itertuples():
        got = times[row._4][row._5]
        assert got == enc.time_.encode(pd.Series([row.ds]))[0]


def test_query_times_from_polars(fitted: tuple[LongFrameEncoder, pd.DataFrame]) -> None:
    enc, df = fitted
    data = enc.transform(df)
    at = pl.DataFrame({"unique_id": ["s3", "s1"], "ds": [2.0, 4.0]})
    times, frame = enc.query_times(at, data)
    assert isinstance(frame, pd.DataFrame)
    assert frame["_series_idx"].tolist() == [3, 1]
    assert [len(t) for t in times] == [0, 1, 0, 1]


def test_query_times_unknown_ids(fitted: tuple[LongFrameEncoder, pd.DataFrame]) -> None:
    enc, df = fitted
    data = enc.transform(df)
    at = pd.DataFrame({"unique_id": ["s0", "x1", "x2", "x1"], "ds": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(
        QueryError,
        match=re.escape("2 series id(s) in the query frame 'at' have no history: 'x1', 'x2'."),
    ):
        enc.query_times(at, data)
    many = pd.DataFrame({"unique_id": [f"u{i}" for i in range(8)], "ds": 0.0})
    with pytest.raises(QueryError, match=r"8 series id\(s\) .*'u0', 'u1', 'u2', 'u3', 'u4' \.\.\."):
        enc.query_times(many, data)


def test_query_frame_errors(fitted: tuple[LongFrameEncoder, pd.DataFrame]) -> None:
    enc, df = fitted
    data = enc.transform(df)
    with pytest.raises(QueryError, match="at least one row"):
        enc.query_times(pd.DataFrame({"unique_id": [], "ds": []}), data)
    with pytest.raises(LongFrameError, match=r"The time column 'ds' is missing from the query"):
        enc.query_times(pd.DataFrame({"unique_id": ["s0"]}), data)
    with pytest.raises(LongFrameError, match="must be numeric like the one seen in fit"):
        enc.query_times(pd.DataFrame({"unique_id": ["s0"], "ds": [pd.Timestamp(0)]}), data)
    with pytest.raises(LongFrameError, match=r"1 null value\(s\) in 1 series \('s0'\)"):
        enc.query_times(pd.DataFrame({"unique_id": ["s0"], "ds": [np.nan]}), data)


def test_horizon_times(fitted: tuple[LongFrameEncoder, pd.DataFrame]) -> None:
    enc, df = fitted
    data = enc.transform(df)
    grids = enc.horizon_times(data, 10.0, 4)
    h = 10.0 / enc.time_.scale
    for s, grid in zip(data, grids):
        np.testing.assert_allclose(grid, s.times[-1] + h * np.array([0.25, 0.5, 0.75, 1.0]))
    for bad in (0.0, -1.0):
        with pytest.raises(QueryError, match="positive 'horizon'"):
            enc.horizon_times(data, bad, 4)
    for bad_n in (0, 2.0, True):
        with pytest.raises(QueryError, match="'n_points' to be an int >= 1"):
            enc.horizon_times(data, 1.0, bad_n)  # type: ignore[arg-type]


def test_horizon_times_with_datetimes(make_long: Callable[..., pd.DataFrame]) -> None:
    df = make_long(datetime=True, tz="UTC")
    enc = LongFrameEncoder(time_unit="h").fit(df)
    data = enc.transform(df)
    a = enc.horizon_times(data, pd.Timedelta(6, "h"), 3)
    b = enc.horizon_times(data, 6, 3)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y)
    out = enc.decode_frame(data.ids, a, {}, "pandas")
    last = df.groupby("unique_id")["ds"].max()
    first_step = out.groupby("unique_id")["ds"].min()
    pd.testing.assert_series_equal(
        first_step - last, pd.Series(pd.Timedelta(2, "h"), index=last.index), check_names=False
    )


@pytest.mark.parametrize("library", ["pandas", "polars"])
@pytest.mark.parametrize("datetime", [False, True])
def test_decode_frame_round_trips_history(
    make_long: Callable[..., pd.DataFrame], library: str, datetime: bool
) -> None:
    df = make_long(datetime=datetime, tz="Europe/Paris" if datetime else None)
    enc = LongFrameEncoder().fit(df)
    data = enc.transform(df)
    columns = {
        "y_hat": [enc.inverse_values(s.values.astype(np.float64))[:, 0] for s in data],
    }
    out = enc.decode_frame(data.ids, [s.times for s in data], columns, library)
    assert type(out).__module__.split(".")[0] == library
    pdf = out if library == "pandas" else out.to_pandas()
    assert list(pdf.columns) == ["unique_id", "ds", "y_hat"]
    expected = df.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    assert pdf["unique_id"].tolist() == expected["unique_id"].tolist()
    if datetime:
        pd.testing.assert_series_equal(pdf["ds"], expected["ds"])
    else:
        np.testing.assert_allclose(pdf["ds"], expected["ds"], rtol=1e-12)
    np.testing.assert_allclose(pdf["y_hat"], expected["y"], rtol=1e-5)


def test_decode_frame_checks_lengths(fitted: tuple[LongFrameEncoder, pd.DataFrame]) -> None:
    enc, df = fitted
    data = enc.transform(df)
    times = [s.times for s in data]
    with pytest.raises(ValueError, match=r"series 's1' has 2 values for"):
        enc.decode_frame(
            data.ids, times, {"v": [t if i != 1 else t[:2] for i, t in enumerate(times)]}
        )
    with pytest.raises(ValueError, match="clashes with the id or time column"):
        enc.decode_frame(data.ids, times, {"ds": times})
    with pytest.raises(ValueError, match="one time array per id"):
        enc.decode_frame(data.ids, times[:2], {})
    out = enc.decode_frame(data.ids, times, {})
    assert isinstance(out, pd.DataFrame) and len(out) == sum(len(t) for t in times)


def test_answer_frame_puts_rows_back_in_the_query_order(
    fitted: tuple[LongFrameEncoder, pd.DataFrame],
) -> None:
    enc, df = fitted
    data = enc.transform(df)
    at = pd.DataFrame({"unique_id": ["s2", "s0", "s2", "s0"], "ds": [9.0, 3.0, 1.0, -1.0]})
    times, order = enc.queries(data, at)
    # A value per query that encodes the series and the raw time, in sorted query order.
    columns = {"v": [100 * i + enc.time_.decode(t).to_numpy(float) for i, t in enumerate(times)]}
    out = enc.answer_frame(data.ids, times, order, columns, "pandas")
    positions = {sid: k for k, sid in enumerate(data.ids)}
    expected = [100 * positions[s] + t for s, t in zip(at["unique_id"], at["ds"])]
    assert list(out["unique_id"]) == list(at["unique_id"])
    np.testing.assert_allclose(out["v"], expected)
    grid, none = enc.queries(data, horizon=2.0, n_points=3)
    assert none is None and all(len(g) == 3 for g in grid)
    with pytest.raises(QueryError, match="either 'at' or 'horizon'"):
        enc.queries(data, at, horizon=2.0)
    with pytest.raises(QueryError, match="Say where to predict"):
        enc.queries(data)
