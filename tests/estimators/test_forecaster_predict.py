"""Predictions: shapes, frame libraries, invariances, intervals, scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from latentode.exceptions import LongFrameError, QueryError


def _at(df: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    last = df.groupby("unique_id", sort=False)["ds"].max()
    rows = [(sid, t + 0.3 * (k + 1)) for sid, t in last.items() for k in range(n)]
    return pd.DataFrame(rows, columns=["unique_id", "ds"])


def test_predict_at_query_frame_keeps_its_row_order(fitted, periodic_df):
    at = _at(periodic_df).sample(frac=1.0, random_state=0).reset_index(drop=True)
    out = fitted.predict(periodic_df, at=at)
    assert list(out.columns) == ["unique_id", "ds", "y"]
    pd.testing.assert_frame_equal(out[["unique_id", "ds"]], at)
    assert np.isfinite(out["y"]).all()


def test_predict_horizon_grid_after_each_last_observation(fitted, periodic_df):
    out = fitted.predict(periodic_df, horizon=2.0, n_points=4)
    assert len(out) == 4 * periodic_df["unique_id"].nunique()
    last = periodic_df.groupby("unique_id")["ds"].max()
    first = out.groupby("unique_id")["ds"].min()
    np.testing.assert_allclose(first - last[first.index], 0.5, rtol=1e-9)


def test_polars_in_polars_out_same_values(fitted, periodic_df):
    at = _at(periodic_df)
    pd_out = fitted.predict(periodic_df, at=at)
    pl_out = fitted.predict(pl.from_pandas(periodic_df), at=pl.from_pandas(at))
    assert isinstance(pl_out, pl.DataFrame)
    np.testing.assert_allclose(pl_out["y"].to_numpy(), pd_out["y"].to_numpy(), rtol=1e-5)


def test_predictions_invariant_to_series_order_batching_and_duplication(periodic_df, fast):
    # Every series takes its own (adaptive) steps, so batch-mates do not change its results.
    from latentode import LatentODEForecaster

    fitted = LatentODEForecaster(**fast).fit(periodic_df)
    at = _at(periodic_df)
    base = fitted.predict(periodic_df, at=at).set_index(["unique_id", "ds"])["y"]
    # reversed series order
    ids = periodic_df["unique_id"].unique()[::-1]
    shuffled = pd.concat([periodic_df[periodic_df["unique_id"] == i] for i in ids])
    rev = fitted.predict(shuffled, at=at).set_index(["unique_id", "ds"])["y"]
    np.testing.assert_allclose(rev[base.index], base, rtol=1e-4, atol=1e-4)
    # one series alone (a batch of one)
    one = periodic_df[periodic_df["unique_id"] == ids[0]]
    alone = fitted.predict(one, at=at[at["unique_id"] == ids[0]]).set_index(["unique_id", "ds"])[
        "y"
    ]
    np.testing.assert_allclose(alone, base[alone.index], rtol=1e-4, atol=1e-4)
    # a duplicated series under another id predicts the same
    dup = one.assign(unique_id="copy")
    both = pd.concat([periodic_df, dup])
    at_dup = pd.concat([at, at[at["unique_id"] == ids[0]].assign(unique_id="copy")])
    out = fitted.predict(both, at=at_dup)
    np.testing.assert_allclose(
        out.loc[out["unique_id"] == "copy", "y"].to_numpy(),
        out.loc[out["unique_id"] == ids[0], "y"].to_numpy(),
        rtol=1e-4,
        atol=1e-4,
    )


def test_inputs_are_not_mutated(fitted, periodic_df):
    df = periodic_df.copy()
    at = _at(df)
    df_before, at_before = df.copy(deep=True), at.copy(deep=True)
    fitted.predict(df, at=at)
    fitted.score_samples(df)
    pd.testing.assert_frame_equal(df, df_before)
    pd.testing.assert_frame_equal(at, at_before)


def test_quantiles_are_ordered_and_interval_contains_mean(fitted, periodic_df):
    q = fitted.predict_quantiles(periodic_df, horizon=1.0, n_points=3, alpha=[0.1, 0.5, 0.9])
    assert (q["y_q0.1"] <= q["y_q0.5"]).all() and (q["y_q0.5"] <= q["y_q0.9"]).all()
    iv = fitted.predict_interval(periodic_df, horizon=1.0, n_points=3, coverage=0.8)
    assert (iv["y_lower"] < iv["y_upper"]).all()
    assert ((iv["y"] >= iv["y_lower"]) & (iv["y"] <= iv["y_upper"])).mean() > 0.9


def test_several_interval_levels_are_named_by_level_and_nested(fitted, periodic_df):
    kw = {"horizon": 1.0, "n_points": 3}
    multi = fitted.predict_interval(periodic_df, coverage=[0.8, 0.95], **kw)
    assert list(multi.columns)[2:] == ["y", "y_lower_80", "y_upper_80", "y_lower_95", "y_upper_95"]
    assert (multi["y_lower_95"] < multi["y_lower_80"]).all()
    assert (multi["y_upper_80"] < multi["y_upper_95"]).all()
    # The same predictive draws as a one-level call: its bounds come out identical.
    one = fitted.predict_interval(periodic_df, coverage=0.8, **kw)
    np.testing.assert_array_equal(multi["y_lower_80"], one["y_lower"])
    np.testing.assert_array_equal(multi["y_upper_80"], one["y_upper"])
    dist = fitted.predict_distribution(periodic_df, alpha=[0.5], coverage=[0.8, 0.95], **kw)
    np.testing.assert_array_equal(dist["y_upper_95"], multi["y_upper_95"])
    assert "y_q0.5" in dist.columns and "y_lower" not in dist.columns


def test_sample_shape_and_spread(fitted, periodic_df):
    s = fitted.sample(periodic_df, horizon=1.0, n_points=2, n_samples=5)
    assert len(s) == 5 * 2 * periodic_df["unique_id"].nunique()
    assert set(s["sample"]) == set(range(5))
    assert s.groupby(["unique_id", "ds"])["y"].std().gt(0).all()


def test_score_samples_per_series_and_score_per_observation(fitted, periodic_df):
    per_series = fitted.score_samples(periodic_df)
    assert per_series.shape == (periodic_df["unique_id"].nunique(),)
    assert np.isfinite(per_series).all()
    n_obs = periodic_df["y"].notna().sum()
    assert fitted.score(periodic_df) == pytest.approx(per_series.sum() / n_obs)
    # a corrupted series scores lower than itself
    sid = periodic_df["unique_id"].iloc[0]
    bad = periodic_df.copy()
    sel = bad["unique_id"] == sid
    bad.loc[sel, "y"] = bad.loc[sel, "y"] + 5.0
    assert fitted.score_samples(bad)[0] < per_series[0]


def test_transform_gives_latent_means(fitted, periodic_df):
    z = fitted.transform(periodic_df)
    assert z.shape == (periodic_df["unique_id"].nunique(), fitted.latent_dim)


def test_partially_observed_multivariate_series(periodic_df, fast):
    from latentode import LatentODEForecaster

    df = periodic_df.assign(y2=-periodic_df["y"])
    df.loc[df.index % 3 == 0, "y"] = np.nan
    df.loc[df.index % 3 == 1, "y2"] = np.nan
    est = LatentODEForecaster(**fast).fit(df)
    out = est.predict_interval(df, horizon=1.0, n_points=2)
    assert {"y", "y2", "y_lower", "y2_upper"} <= set(out.columns)
    assert np.isfinite(out[["y", "y2"]].to_numpy()).all()


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (lambda d: d.drop(columns="ds"), LongFrameError, "ds"),
        (lambda d: d.assign(y=d["y"].astype(str)), LongFrameError, "numeric"),
        (
            lambda d: d.assign(y=np.where(d["unique_id"] == "s0000", np.nan, d["y"])),
            LongFrameError,
            "s0000",
        ),
        (lambda d: pd.concat([d, d.iloc[:1]]), LongFrameError, "duplicate"),
    ],
    ids=[
        "missing-time-column",
        "non-numeric-feature",
        "series-without-observation",
        "duplicate-timestamp",
    ],
)
def test_bad_inputs_give_clear_errors(fitted, periodic_df, mutate, error, match):
    with pytest.raises(error, match=match):
        fitted.predict(mutate(periodic_df), horizon=1.0)


def test_unsorted_rows_are_accepted(fitted, periodic_df):
    shuffled = periodic_df.sample(frac=1.0, random_state=3)
    a = fitted.predict(periodic_df, horizon=1.0, n_points=2)
    b = fitted.predict(shuffled, horizon=1.0, n_points=2)
    merged = a.merge(b, on=["unique_id", "ds"])
    np.testing.assert_allclose(merged["y_x"], merged["y_y"], rtol=1e-4, atol=1e-4)


def test_query_errors(fitted, periodic_df):
    with pytest.raises(QueryError, match="horizon"):
        fitted.predict(periodic_df)
    with pytest.raises(QueryError, match="not both"):
        fitted.predict(periodic_df, at=_at(periodic_df), horizon=1.0)
    with pytest.raises(QueryError):
        fitted.predict(periodic_df, at=pd.DataFrame({"unique_id": ["nope"], "ds": [1.0]}))
    with pytest.raises(QueryError, match=r"\(0, 1\)"):
        fitted.predict_quantiles(periodic_df, horizon=1.0, alpha=[1.5])


def test_score_samples_per_observation_normalises_by_each_series_count(fitted, periodic_df):
    from latentode.exceptions import QueryError

    per_series = fitted.score_samples(periodic_df)
    per_obs = fitted.score_samples(periodic_df, per="observation")
    value_cols = [c for c in periodic_df.columns if c not in ("unique_id", "ds")]
    counts = periodic_df.groupby("unique_id", sort=False)[value_cols].count().sum(axis=1).to_numpy()
    np.testing.assert_allclose(per_obs, per_series / counts, rtol=1e-12)
    # A series cut to its first half scores about the same per observation, not per series.
    first = periodic_df["unique_id"].iloc[0]
    one = periodic_df[periodic_df["unique_id"] == first]
    half = one.iloc[: len(one) // 2]
    whole_s, half_s = fitted.score_samples(one)[0], fitted.score_samples(half)[0]
    whole_o = fitted.score_samples(one, per="observation")[0]
    half_o = fitted.score_samples(half, per="observation")[0]
    assert abs(whole_o - half_o) < abs(whole_s - half_s)
    with pytest.raises(QueryError, match="'per' must be"):
        fitted.score_samples(periodic_df, per="row")
