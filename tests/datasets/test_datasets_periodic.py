from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentode.datasets import make_periodic
from latentode.exceptions import ParameterError


def test_shared_grid_of_100_points_starting_at_zero() -> None:
    df, params = make_periodic(n_series=50, random_state=0, return_params=True)
    assert list(df.columns) == ["unique_id", "ds", "y"]
    assert df["ds"].dtype == np.float64 and df["y"].dtype == np.float64
    assert df["unique_id"].iloc[0] == "s0000" and df["unique_id"].iloc[-1] == "s0049"
    grids = df.groupby("unique_id", sort=False)["ds"].apply(np.asarray)
    assert len(grids) == 50
    first = grids.iloc[0]
    assert first.shape == (100,) and first[0] == 0.0
    assert (np.diff(first) > 0).all() and first.max() <= 5.0
    assert all(np.array_equal(g, first) for g in grids)
    assert list(params.columns) == ["unique_id", "f", "c"]
    assert params["f"].between(0.4, 0.8).all()


def test_values_follow_the_formula() -> None:
    df, params = make_periodic(
        n_series=20, n_points=30, noise=0.01, random_state=1, return_params=True
    )
    merged = df.merge(params, on="unique_id")
    residual = merged["y"] - np.sin(2 * np.pi * merged["f"] * merged["ds"]) - merged["c"]
    assert residual.between(0.0, 0.01).all()
    assert residual.max() > 0.005  # the uniform noise is there


def test_parameter_distributions() -> None:
    _, params = make_periodic(
        n_series=4000, n_points=2, freq_range=(1.0, 3.0), random_state=2, return_params=True
    )
    assert params["f"].between(1.0, 3.0).all()
    assert params["f"].mean() == pytest.approx(2.0, abs=0.05)
    assert params["f"].std() == pytest.approx(2 / np.sqrt(12), rel=0.05)
    assert params["c"].mean() == pytest.approx(1.0, abs=0.01)
    assert params["c"].std() == pytest.approx(0.1, rel=0.05)


def test_deterministic_given_random_state() -> None:
    a = make_periodic(n_series=5, n_points=10, random_state=7)
    b = make_periodic(n_series=5, n_points=10, random_state=7)
    c = make_periodic(n_series=5, n_points=10, random_state=8)
    d = make_periodic(n_series=5, n_points=10, random_state=np.random.default_rng(7))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, d)
    assert not a.equals(c)


@pytest.mark.parametrize(("fraction", "kept"), [(0.5, 50), (0.3, 30), (0.001, 2), (1.0, 100)])
def test_observed_fraction_keeps_sorted_subsets_of_the_grid(fraction: float, kept: int) -> None:
    full = make_periodic(n_series=10, random_state=3)
    df = make_periodic(n_series=10, observed_fraction=fraction, random_state=3)
    grid = full.loc[full["unique_id"] == "s0000", "ds"].to_numpy()
    sizes = df.groupby("unique_id")["ds"].size()
    assert (sizes == kept).all()
    for _, group in df.groupby("unique_id"):
        t = group["ds"].to_numpy()
        assert (np.diff(t) > 0).all() and np.isin(t, grid).all()
    if fraction < 1.0:
        subsets = df.groupby("unique_id")["ds"].apply(tuple)
        assert subsets.nunique() > 1  # each series keeps its own subset


def test_separate_grids() -> None:
    df = make_periodic(n_series=5, n_points=20, shared_grid=False, random_state=4)
    grids = [g.to_numpy() for _, g in df.groupby("unique_id")["ds"]]
    assert all(g[0] == 0.0 and (np.diff(g) > 0).all() for g in grids)
    assert not np.array_equal(grids[0], grids[1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"n_series": 0},
            r"'n_series' parameter of make_periodic must be an int in the range \[1, inf\). Got 0",
        ),
        ({"n_points": 1}, r"'n_points' .* range \[2, inf\)"),
        ({"t_max": -1.0}, r"'t_max' .* range \(0, inf\)"),
        ({"noise": -0.1}, r"'noise' .* range \[0, inf\)"),
        ({"observed_fraction": 0.0}, r"'observed_fraction' .* range \(0, 1\]"),
        ({"freq_range": (0.8, 0.4)}, r"'freq_range' .* 0 < low <= high"),
        ({"random_state": "seed"}, r"'random_state' .* Got 'seed'"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        make_periodic(**kwargs)  # type: ignore[arg-type]
