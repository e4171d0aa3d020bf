from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.exceptions import NotFittedError

from latentode.data import IrregularDataset, LongFrameEncoder, LongFrameSpec


def _assert_same_dataset(a: IrregularDataset, b: IrregularDataset) -> None:
    assert a.ids == b.ids
    assert a.n_features == b.n_features
    for sa, sb in zip(a, b):
        np.testing.assert_array_equal(sa.times, sb.times)
        np.testing.assert_array_equal(sa.values, sb.values)
        np.testing.assert_array_equal(sa.mask, sb.mask)


def test_transform_builds_scaled_masked_series(long_df: pd.DataFrame) -> None:
    enc = LongFrameEncoder(LongFrameSpec())
    assert enc.fit(long_df) is enc
    assert enc.feature_cols_ == ("y", "z") and enc.library_ == "pandas"
    data = enc.transform(long_df)
    assert data.ids == ["s0", "s1", "s2"] and data.n_features == 2
    raw = long_df[["y", "z"]].to_numpy()
    assert data.n_observations == int((~np.isnan(raw)).sum())
    for s in data:
        rows = long_df[long_df["unique_id"] == s.id].sort_values("ds")
        assert s.times.dtype == np.float64 and (np.diff(s.times) > 0).all()
        assert s.values.dtype == np.float32
        x = rows[["y", "z"]].to_numpy()
        np.testing.assert_array_equal(s.mask, ~np.isnan(x))
        assert (s.values[~s.mask] == 0.0).all()
        back = enc.inverse_values(s.values.astype(np.float64))
        np.testing.assert_allclose(back[s.mask], x[s.mask], rtol=1e-5)
        np.testing.assert_allclose(s.times, enc.time_.encode(rows["ds"]))
    assert min(s.times[0] for s in data) == 0.0  # origin is the earliest time


def test_series_order_is_first_appearance(make_long: Callable[..., pd.DataFrame]) -> None:
    df = make_long(n_series=4)
    order = ["s2", "s0", "s3", "s1"]
    df = pd.concat([df[df["unique_id"] == sid] for sid in order], ignore_index=True)
    assert LongFrameEncoder().fit(df).transform(df).ids == order


def test_unsorted_input_is_sorted(long_df: pd.DataFrame) -> None:
    shuffled = long_df.sample(frac=1.0, random_state=3)
    first_seen = list(dict.fromkeys(shuffled["unique_id"]))
    enc = LongFrameEncoder().fit(long_df)
    got = enc.transform(shuffled)
    assert got.ids == first_seen
    expected = enc.transform(long_df)
    _assert_same_dataset(got, expected.subset([expected.ids.index(i) for i in first_seen]))


@pytest.mark.parametrize("kind", ["numeric", "datetime", "tz"])
def test_pandas_and_polars_give_identical_datasets(
    make_long: Callable[..., pd.DataFrame], kind: str
) -> None:
    df = make_long(
        missing=0.3, datetime=kind != "numeric", tz="Europe/Paris" if kind == "tz" else None
    )
    pdf_enc = LongFrameEncoder(time_unit="h").fit(df)
    pl_df = pl.from_pandas(df.assign(ds=df["ds"].dt.tz_convert(None)) if kind == "tz" else df)
    if kind == "tz":
        pl_df = pl_df.with_columns(
            pl.col("ds").dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Paris")
        )
    pl_enc = LongFrameEncoder(time_unit="h").fit(pl_df)
    assert pl_enc.library_ == "polars"
    pd_dict, pl_dict = pdf_enc.to_dict(), pl_enc.to_dict()
    assert pd_dict.pop("library") == "pandas" and pl_dict.pop("library") == "polars"
    assert pd_dict == pl_dict
    _assert_same_dataset(pdf_enc.transform(df), pl_enc.transform(pl_df))
    _assert_same_dataset(pdf_enc.transform(df), pdf_enc.transform(pl_df))


def test_input_frames_are_not_mutated(make_long: Callable[..., pd.DataFrame]) -> None:
    df = make_long(missing=0.3, datetime=True).sample(frac=1.0, random_state=0)
    df.loc[df.index[0], ["y", "z"]] = np.nan  # an all-NaN row, dropped internally
    before = copy.deepcopy(df)
    enc = LongFrameEncoder(time_unit="min")
    enc.fit(df)
    enc.transform(df)
    enc.query_times(df[["unique_id", "ds"]], enc.transform(df))
    pd.testing.assert_frame_equal(df, before)
    assert df.index.equals(before.index)
    pl_df = pl.from_pandas(before)
    pl_before = pl_df.clone()
    enc.fit(pl_df).transform(pl_df)
    assert pl_df.equals(pl_before)


def test_all_nan_rows_are_dropped(long_df: pd.DataFrame) -> None:
    df = long_df.copy()
    df.loc[[1, 2], ["y", "z"]] = np.nan
    data = LongFrameEncoder().fit(df).transform(df)
    assert sum(len(s) for s in data) == len(df) - 2
    assert all(s.mask.any(axis=1).all() for s in data)


def test_json_round_trip_of_fitted_encoder(make_long: Callable[..., pd.DataFrame]) -> None:
    df = make_long(missing=0.2, datetime=True, tz="UTC")
    enc = LongFrameEncoder(LongFrameSpec(feature_cols=("z",)), time_unit="h").fit(df)
    text = json.dumps(enc.to_dict())
    restored = LongFrameEncoder.from_dict(json.loads(text))
    assert restored.to_dict() == enc.to_dict()
    assert restored.spec == enc.spec and restored.time_ == enc.time_
    _assert_same_dataset(restored.transform(df), enc.transform(df))
    unfitted = LongFrameEncoder.from_dict(json.loads(json.dumps(LongFrameEncoder().to_dict())))
    with pytest.raises(NotFittedError):
        unfitted.transform(df)
    with pytest.raises(ValueError, match=r"Expected a dict written by LongFrameEncoder\.to_dict"):
        LongFrameEncoder.from_dict({"format": "other"})


def test_not_fitted(long_df: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError, match="not fitted yet"):
        LongFrameEncoder().transform(long_df)


def test_fit_transform_equals_fit_then_transform(long_df: pd.DataFrame) -> None:
    a = LongFrameEncoder().fit_transform(long_df)
    b = LongFrameEncoder().fit(long_df).transform(long_df)
    _assert_same_dataset(a, b)


def test_feature_cols_and_extra_columns(long_df: pd.DataFrame) -> None:
    spec = LongFrameSpec(id_col="unique_id", time_col="ds", feature_cols=("y",))
    enc = LongFrameEncoder(spec).fit(long_df.assign(note="text"))
    assert enc.feature_cols_ == ("y",)
    data = enc.transform(long_df.assign(other=1.0))
    assert data.n_features == 1
    enc_all = LongFrameEncoder().fit(long_df)
    assert enc_all.transform(long_df.assign(extra=1.0)).n_features == 2


def test_integer_ids_and_custom_column_names() -> None:
    df = pd.DataFrame({"sid": [7, 7, 3, 3], "when": [0, 1, 0, 2], "v": [1.0, 2.0, 3.0, 4.0]})
    enc = LongFrameEncoder(LongFrameSpec(id_col="sid", time_col="when")).fit(df)
    data = enc.transform(df)
    assert data.ids == [7, 3]
    assert all(type(i) is int for i in data.ids)
    np.testing.assert_allclose(data[1].times, [0.0, 2 / 1.5])  # scale = median span 1.5


def test_nullable_and_bool_features_are_numeric() -> None:
    df = pd.DataFrame(
        {
            "unique_id": ["a", "a", "a"],
            "ds": [0.0, 1.0, 2.0],
            "n": pd.array([1, None, 3], dtype="Int64"),
            "f": pd.array([0.5, 1.5, None], dtype="Float64"),
        }
    )
    data = LongFrameEncoder().fit(df).transform(df)
    np.testing.assert_array_equal(data[0].mask, [[True, True], [False, True], [True, False]])


def test_transform_is_fast_for_1000_series_of_100_points() -> None:
    rng = np.random.default_rng(0)
    n, k = 1000, 100
    df = pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i:04d}" for i in range(n)], k),
            "ds": np.tile(np.arange(k, dtype=float), n) + rng.random(n * k) * 0.5,
            "y": np.where(rng.random(n * k) < 0.2, np.nan, rng.normal(size=n * k)),
            "z": rng.normal(size=n * k),
        }
    ).sample(frac=1.0, random_state=0)
    enc = LongFrameEncoder().fit(df)
    start = time.perf_counter()
    data = enc.transform(df)
    elapsed = time.perf_counter() - start
    assert len(data) == n and sum(len(s) for s in data) == n * k
    assert elapsed < 1.0, f"transform took {elapsed:.2f} s"


def test_fitted_encoder_pickles(make_long: Callable[..., pd.DataFrame]) -> None:
    import pickle

    df = make_long(missing=0.2, datetime=True, tz="Europe/Paris")
    enc = LongFrameEncoder(time_unit="h").fit(df)
    restored = pickle.loads(pickle.dumps(enc))
    assert restored.to_dict() == enc.to_dict()
    _assert_same_dataset(restored.transform(df), enc.transform(df))
