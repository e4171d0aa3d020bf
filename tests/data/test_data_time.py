from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from latentode.data import TimeEncoder
from latentode.exceptions import LongFrameError, ParameterError, QueryError


def _numeric() -> tuple[pd.Series, pd.Series]:
    ds = pd.Series([3.0, 5.0, 7.0, 10.0, 20.0, 13.0, 30.0])
    ids = pd.Series(["a", "a", "b", "b", "b", "c", "c"])
    return ds, ids


def test_numeric_origin_and_scale_is_median_span() -> None:
    ds, ids = _numeric()
    enc = TimeEncoder.fit(ds, ids)
    assert enc.kind == "numeric"
    assert enc.unit is None and enc.tz is None
    assert enc.origin == 3.0
    assert enc.scale == 13.0  # spans a: 2, b: 13, c: 17 -> median 13
    np.testing.assert_array_equal(enc.encode(ds), (ds.to_numpy() - 3.0) / 13.0)


def test_scale_ignores_single_instant_series_and_falls_back_to_one() -> None:
    ds = pd.Series([0.0, 4.0, 1.0, 2.0, 9.0])
    ids = pd.Series(["a", "a", "b", "c", "d"])
    assert TimeEncoder.fit(ds, ids).scale == 4.0
    single = TimeEncoder.fit(pd.Series([5.0, 6.0]), pd.Series(["a", "b"]))
    assert single.scale == 1.0


def test_numeric_round_trip_is_exact_to_rounding(rng: np.random.Generator) -> None:
    ds = pd.Series(rng.uniform(-1e4, 1e6, size=500))
    ids = pd.Series(rng.integers(0, 20, size=500))
    enc = TimeEncoder.fit(ds, ids)
    back = enc.decode(enc.encode(ds))
    assert back.dtype == np.float64
    np.testing.assert_allclose(back.to_numpy(), ds.to_numpy(), rtol=1e-13, atol=1e-9)


def test_integer_times_are_numeric() -> None:
    enc = TimeEncoder.fit(pd.Series([10, 20, 40]), pd.Series([0, 0, 0]))
    assert enc.kind == "numeric"
    np.testing.assert_allclose(enc.encode(pd.Series([10, 40])), [0.0, 1.0])


@pytest.mark.parametrize("resolution", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Paris", "UTC+05:30", "America/New_York"])
def test_datetime_round_trip_is_exact(resolution: str, tz: str | None) -> None:
    rng = np.random.default_rng(1)
    base = pd.Timestamp("2023-10-28 12:00:00")  # spans the European DST change
    offsets_ms = rng.integers(0, 20 * 86_400_000, size=200)
    ds = pd.Series(base + pd.to_timedelta(offsets_ms, unit="ms")).dt.as_unit(resolution)
    if resolution == "s":
        ds = ds.dt.floor("s")
    if tz is not None:
        ds = ds.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward").dropna()
        ds = ds.reset_index(drop=True)
    ids = pd.Series(np.arange(len(ds)) % 7)
    enc = TimeEncoder.fit(ds, ids)
    assert enc.kind == "datetime" and enc.resolution == resolution
    assert enc.tz == (None if tz is None else str(ds.dt.tz))
    back = enc.decode(enc.encode(ds))
    assert back.dtype == ds.dtype
    pd.testing.assert_series_equal(back, ds, check_names=False)


def test_datetime_units() -> None:
    ds = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02", "2024-01-06"]))
    ids = pd.Series(["a", "a", "b", "b"])
    days = TimeEncoder.fit(ds, ids)
    hours = TimeEncoder.fit(ds, ids, time_unit="h")
    assert days.unit == "D" and hours.unit == "h"
    assert days.scale == 3.0  # spans 2 and 4 days
    assert hours.scale == 72.0
    assert days.origin == pd.Timestamp("2024-01-01").value / 86_400e9
    np.testing.assert_allclose(days.encode(ds), hours.encode(ds))
    np.testing.assert_allclose(days.encode(ds), [0.0, 2 / 3, 1 / 3, 5 / 3])


def test_tz_aware_encoding_uses_instants() -> None:
    utc = pd.Series(pd.to_datetime(["2024-01-01 00:00", "2024-01-02 00:00"])).dt.tz_localize("UTC")
    enc = TimeEncoder.fit(utc, pd.Series(["a", "a"]))
    paris = utc.dt.tz_convert("Europe/Paris")
    np.testing.assert_array_equal(enc.encode(paris), enc.encode(utc))
    assert str(enc.decode(np.array([0.5])).dt.tz) == "UTC"


def test_decode_nan_gives_nat() -> None:
    ds = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-03"]))
    enc = TimeEncoder.fit(ds, pd.Series([1, 1]))
    out = enc.decode(np.array([np.nan, 0.5]))
    assert out.isna().tolist() == [True, False]
    assert out.iloc[1] == pd.Timestamp("2024-01-02")


def test_encode_delta() -> None:
    ds, ids = _numeric()
    num = TimeEncoder.fit(ds, ids)
    assert num.encode_delta(26) == 2.0
    with pytest.raises(QueryError, match="Expected a number for a duration on a numeric"):
        num.encode_delta(pd.Timedelta(1, "D"))
    with pytest.raises(QueryError, match="finite duration"):
        num.encode_delta(float("inf"))
    with pytest.raises(QueryError, match="Expected a number for a duration; got '2'"):
        num.encode_delta("2")
    dts = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-05"]))
    enc = TimeEncoder.fit(dts, pd.Series([0, 0]), time_unit="h")
    assert enc.scale == 96.0
    for h in (48, 48.0, pd.Timedelta(2, "D"), dt.timedelta(days=2), np.timedelta64(48, "h")):
        assert enc.encode_delta(h) == 0.5
    with pytest.raises(QueryError, match="a number or a timedelta"):
        enc.encode_delta(True)


@pytest.mark.parametrize("unit", ["ms", "day", "M", ""])
def test_invalid_time_unit(unit: str) -> None:
    ds, ids = _numeric()
    with pytest.raises(ParameterError, match=r"'time_unit' parameter must be None or one of"):
        TimeEncoder.fit(ds, ids, time_unit=unit)


def test_fit_rejects_strings_and_nulls() -> None:
    with pytest.raises(LongFrameError, match="must be numeric or datetime64; got dtype str"):
        TimeEncoder.fit(pd.Series(["2024-01-01"]), pd.Series([0]))
    with pytest.raises(LongFrameError, match="1 null time"):
        TimeEncoder.fit(pd.Series([1.0, np.nan]), pd.Series([0, 0]))


def test_encode_rejects_another_kind() -> None:
    ds, ids = _numeric()
    enc = TimeEncoder.fit(ds, ids)
    with pytest.raises(LongFrameError, match="Expected a numeric time column"):
        enc.encode(pd.Series(pd.to_datetime(["2024-01-01"])))
    naive = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"]))
    denc = TimeEncoder.fit(naive, pd.Series([0, 0]))
    with pytest.raises(LongFrameError, match="Expected tz-naive datetimes"):
        denc.encode(naive.dt.tz_localize("UTC"))
    aenc = TimeEncoder.fit(naive.dt.tz_localize("UTC"), pd.Series([0, 0]))
    with pytest.raises(LongFrameError, match=r"Expected tz-aware \(UTC\) datetimes"):
        aenc.encode(naive)


@pytest.mark.parametrize("tz", [None, "Asia/Tokyo"])
def test_json_round_trip(tz: str | None) -> None:
    ds = pd.Series(pd.to_datetime(["2024-01-01 10:00", "2024-01-03 11:30"]))
    if tz:
        ds = ds.dt.tz_localize(tz)
    for enc in (
        TimeEncoder.fit(ds, pd.Series([0, 0]), time_unit="min"),
        TimeEncoder.fit(*_numeric()),
    ):
        restored = TimeEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
        assert restored == enc
    enc = TimeEncoder.fit(ds, pd.Series([0, 0]))
    restored = TimeEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    pd.testing.assert_series_equal(restored.decode(restored.encode(ds)), ds)


def test_even_times_spans_numbers_and_datetimes_with_their_time_zone() -> None:
    from latentode.data import even_times

    np.testing.assert_array_equal(even_times(1, 3, 5), [1.0, 1.5, 2.0, 2.5, 3.0])
    start = pd.Timestamp("2024-01-01", tz="Europe/Paris")
    grid = even_times(start, start + pd.Timedelta(hours=4), 5)
    assert list(grid) == [start + pd.Timedelta(hours=h) for h in range(5)]
    assert str(grid.tz) == "Europe/Paris"
    assert even_times(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3), 3)[1] == pd.Timestamp(
        "2024-01-02"
    )
