from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentode.datasets import make_spirals


def test_noise_free_points_lie_on_the_reference_spirals() -> None:
    n = 40
    df, params = make_spirals(
        n_series=30, n_points=n, noise=0.0, random_state=0, return_params=True
    )
    assert list(df.columns) == ["unique_id", "ds", "x", "y"]
    assert set(params["direction"]) == {"cw", "ccw"}
    s = np.linspace(0.0, 6 * np.pi, 5 * n)
    for row in params.itertuples():
        g = df[df["unique_id"] == row.unique_id]
        np.testing.assert_allclose(g["ds"], s[:n])
        param = s[row.start : row.start + n]
        assert n <= row.start < 4 * n
        if row.direction == "ccw":
            r = np.hypot(g["x"] - 5.0, g["y"])
            np.testing.assert_allclose(r, 0.3 * param, atol=1e-12)
            np.testing.assert_allclose(
                np.arctan2(g["y"], g["x"] - 5.0), np.angle(np.exp(1j * param)), atol=1e-9
            )
        else:
            r = np.hypot(g["x"] + 5.0, g["y"])
            np.testing.assert_allclose(r, 15.0 / (6 * np.pi + 1.0 - param), atol=1e-12)


def test_noise_level() -> None:
    clean = make_spirals(n_series=50, noise=0.0, random_state=1)
    noisy = make_spirals(n_series=50, noise=0.2, random_state=1)
    diff = (noisy[["x", "y"]] - clean[["x", "y"]]).to_numpy()
    assert diff.std() == pytest.approx(0.2, rel=0.05)


def test_deterministic_and_subsampled() -> None:
    a = make_spirals(n_series=4, n_points=20, observed_fraction=0.5, random_state=3)
    b = make_spirals(n_series=4, n_points=20, observed_fraction=0.5, random_state=3)
    pd.testing.assert_frame_equal(a, b)
    assert (a.groupby("unique_id").size() == 10).all()
    assert not a.equals(
        make_spirals(n_series=4, n_points=20, observed_fraction=0.5, random_state=4)
    )
