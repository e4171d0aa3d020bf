"""Bounded work at the estimator level: far queries fail fast naming the series; any time unit."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from latentode import LatentODEForecaster
from latentode.exceptions import MaxStepsExceededError


def frame(scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        t = np.sort(rng.uniform(0, 5, 10))
        rows += [(f"s{i}", tt * scale, np.sin(tt + i)) for tt in t]
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


@pytest.fixture(scope="module")
def euler_model():
    return LatentODEForecaster(
        method="euler", max_epochs=2, latent_dim=4, encoder_hidden_dim=8, random_state=0
    ).fit(frame())


def test_far_query_fails_within_a_second_naming_the_series(euler_model):
    at = pd.DataFrame({"unique_id": ["s0", "s7"], "ds": [6.0, 1e6]})
    start = time.perf_counter()
    with pytest.raises(MaxStepsExceededError, match=r"Series 's7'.*max_num_steps=10000"):
        euler_model.predict(frame(), at)
    assert time.perf_counter() - start < 2.0
    near = euler_model.predict(frame(), at.iloc[:1])
    assert np.isfinite(near["y"]).all()


@pytest.mark.parametrize("scale", [1e-12, 1e12])
def test_any_time_unit_gives_the_same_forecast(scale):
    params = dict(method="euler", max_epochs=2, latent_dim=4, encoder_hidden_dim=8)
    base = LatentODEForecaster(**params, random_state=0).fit(frame())
    scaled = LatentODEForecaster(**params, random_state=0).fit(frame(scale))
    at = pd.DataFrame({"unique_id": ["s1", "s2"], "ds": [5.5, 7.0]})
    expected = base.predict(frame(), at)["y"].to_numpy()
    got = scaled.predict(frame(scale), at.assign(ds=at["ds"] * scale))["y"].to_numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
