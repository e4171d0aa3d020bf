"""Baselines: exact rules on tiny frames, GP coverage, boosting vs last value, frames API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.gaussian_process.kernels import RBF

import latentode.baselines as bl
from latentode.exceptions import LongFrameError, ParameterError, QueryError

ALL = [
    bl.LastValueBaseline,
    bl.LinearInterpolationBaseline,
    bl.GPBaseline,
    bl.GradientBoostingBaseline,
]


def tiny() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": ["a"] * 3 + ["b"] * 3,
            "ds": [0.0, 1.0, 3.0, 0.0, 2.0, 4.0],
            "x": [1.0, np.nan, 5.0, 0.0, 2.0, 4.0],
            "y": [10.0, 20.0, np.nan, 1.0, np.nan, 3.0],
        }
    )


def queries() -> pd.DataFrame:
    return pd.DataFrame({"unique_id": ["a", "a", "b", "a"], "ds": [2.0, 5.0, 3.0, -1.0]})


def test_public_names_are_pinned():
    assert sorted(bl.__all__) == [
        "BaselineForecaster",
        "GPBaseline",
        "GradientBoostingBaseline",
        "LastValueBaseline",
        "LinearInterpolationBaseline",
        "ResidualBand",
    ]


def test_last_value_exact():
    est = bl.LastValueBaseline(random_state=0).fit(tiny())
    out = est.predict(tiny(), at=queries())
    assert list(out.columns) == ["unique_id", "ds", "x", "y"]
    np.testing.assert_allclose(out["x"], [1.0, 5.0, 2.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(out["y"], [20.0, 20.0, 1.0, 10.0], rtol=1e-6)


def test_linear_exact():
    est = bl.LinearInterpolationBaseline(random_state=0).fit(tiny())
    out = est.predict(tiny(), at=queries())
    np.testing.assert_allclose(out["x"], [1 + 4 * 2 / 3, 5.0, 3.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(out["y"], [20.0, 20.0, 1 + 2 * 3 / 4, 10.0], rtol=1e-6)


@pytest.mark.parametrize("cls", ALL)
def test_output_columns_and_order(cls):
    est = cls(random_state=0).fit(tiny())
    q = est.predict_quantiles(tiny(), at=queries(), alpha=[0.1, 0.5, 0.9])
    assert list(q.columns) == [
        "unique_id",
        "ds",
        "x_q0.1",
        "x_q0.5",
        "x_q0.9",
        "y_q0.1",
        "y_q0.5",
        "y_q0.9",
    ]
    assert (q["x_q0.1"] <= q["x_q0.9"]).all()
    iv = est.predict_interval(tiny(), at=queries(), coverage=0.8)
    assert list(iv.columns) == [
        "unique_id",
        "ds",
        "x",
        "x_lower",
        "x_upper",
        "y",
        "y_lower",
        "y_upper",
    ]
    assert list(iv["ds"]) == list(queries()["ds"])
    levels = est.predict_interval(tiny(), at=queries(), coverage=[0.8, 0.995])
    assert list(levels.columns)[2:5] == ["x", "x_lower_80", "x_upper_80"]
    assert list(levels.columns)[5:7] == ["x_lower_99.5", "x_upper_99.5"]
    np.testing.assert_array_equal(levels["y_upper_80"], iv["y_upper"])
    assert (levels["y_upper_99.5"] >= levels["y_upper_80"]).all()
    s = est.sample(tiny(), at=queries(), n_samples=3)
    assert list(s.columns) == ["unique_id", "ds", "sample", "x", "y"] and len(s) == 12
    h = est.predict(tiny(), horizon=2.0, n_points=4)
    assert len(h) == 8 and (h.groupby("unique_id")["ds"].min() > 3.0).all()


@pytest.mark.parametrize("cls", ALL)
def test_polars_round_trip(cls):
    est = cls(random_state=0).fit(pl.from_pandas(tiny()))
    out = est.predict(pl.from_pandas(tiny()), at=pl.from_pandas(queries()))
    assert isinstance(out, pl.DataFrame)
    ref = cls(random_state=0).fit(tiny()).predict(tiny(), at=queries())
    np.testing.assert_allclose(out["x"].to_numpy(), ref["x"].to_numpy())
    assert isinstance(est.sample(pl.from_pandas(tiny()), at=queries(), n_samples=2), pl.DataFrame)


@pytest.mark.parametrize("cls", ALL)
def test_bad_input(cls):
    est = cls()
    with pytest.raises(LongFrameError, match=r"Expected a pandas\.DataFrame"):
        est.fit([1, 2])
    bad = tiny().assign(x=np.nan, y=[np.nan, np.nan, np.nan, 1.0, 2.0, 3.0])
    with pytest.raises(LongFrameError, match="'a'"):
        est.fit(bad)
    fitted = cls(random_state=0).fit(tiny())
    with pytest.raises(QueryError, match="no history"):
        fitted.predict(tiny(), at=pd.DataFrame({"unique_id": ["zz"], "ds": [1.0]}))
    with pytest.raises(QueryError, match="'coverage'"):
        fitted.predict_interval(tiny(), at=queries(), coverage=1.5)
    assert clone(est).get_params() == est.get_params()


def test_parameter_errors():
    with pytest.raises(ParameterError, match="The 'max_points' parameter of GPBaseline must be"):
        bl.GPBaseline(max_points=1).fit(tiny())
    with pytest.raises(ParameterError, match="'n_repeats' parameter of LastValueBaseline"):
        bl.LastValueBaseline(n_repeats=0).fit(tiny())


def gp_frame(n_series: int, rng: np.random.Generator) -> pd.DataFrame:
    kernel = 1.0 * RBF(0.3)
    rows = []
    for i in range(n_series):
        t = np.sort(rng.uniform(0, 2, size=25))
        cov = kernel(t[:, None]) + 0.05 * np.eye(t.size)
        y = 2.0 + rng.multivariate_normal(np.zeros(t.size), cov)
        rows.append(pd.DataFrame({"unique_id": f"s{i}", "ds": t, "y": y}))
    return pd.concat(rows, ignore_index=True)


def test_gp_interval_coverage(rng):
    train, test = gp_frame(40, rng), gp_frame(40, rng)
    hide = test.groupby("unique_id").sample(frac=0.3, random_state=0).index
    history, truth = test.drop(hide), test.loc[hide]
    est = bl.GPBaseline(random_state=0).fit(train)
    iv = est.predict_interval(history, at=truth[["unique_id", "ds"]], coverage=0.8)
    y = truth["y"].to_numpy()
    cover = np.mean((iv["y_lower"].to_numpy() <= y) & (y <= iv["y_upper"].to_numpy()))
    assert 0.7 <= cover <= 0.9


def test_boosting_beats_last_value(rng):
    def frame(n):
        rows = []
        for i in range(n):
            t = np.sort(rng.uniform(0, 10, size=30))
            slope = rng.normal(0, 1)
            rows.append(
                pd.DataFrame(
                    {"unique_id": f"s{i}", "ds": t, "y": slope * t + rng.normal(0, 0.1, t.size)}
                )
            )
        return pd.concat(rows, ignore_index=True)

    train, test = frame(150), frame(50)
    hide = test.groupby("unique_id").sample(frac=0.3, random_state=1).index
    history, truth = test.drop(hide), test.loc[hide]
    errs = {}
    for cls in (bl.LastValueBaseline, bl.GradientBoostingBaseline):
        pred = cls(random_state=0).fit(train).predict(history, at=truth[["unique_id", "ds"]])
        errs[cls.__name__] = np.mean((pred["y"].to_numpy() - truth["y"].to_numpy()) ** 2)
    assert errs["GradientBoostingBaseline"] < 0.5 * errs["LastValueBaseline"]


def test_residual_band_scale_grows_with_gap(rng):
    gap = rng.uniform(0, 4, size=4000)
    res = rng.normal(0, np.sqrt(0.1 + 0.5 * gap))
    band = bl.ResidualBand.fit([gap], [res])
    np.testing.assert_allclose([band.a[0], band.b[0]], [0.1, 0.5], rtol=0.25, atol=0.05)
    z = res / band.scale(gap[:, None])[:, 0]
    assert 0.75 < np.mean(np.abs(z) <= band.quantile(0.9)[0]) < 0.85
