"""``latentode.deadline``: a wall-clock limit that stops fits, forecasts and scores."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

import latentode
from latentode import FFJORDDensity, LatentODEForecaster
from latentode._deadline import check_deadline, time_left
from latentode.exceptions import DeadlineExceededError, ParameterError


def _series(n_series: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        t = np.sort(rng.uniform(0.0, 6.0, 10))
        y = np.sin(t + rng.uniform(0, 6)) + 0.1 * rng.normal(size=10)
        rows.append(pd.DataFrame({"unique_id": f"s{i:03d}", "ds": t, "y": y}))
    return pd.concat(rows, ignore_index=True)


def _tiny(**overrides: object) -> LatentODEForecaster:
    params: dict[str, object] = dict(
        latent_dim=3,
        encoder_hidden_dim=8,
        field_hidden_dim=16,
        max_epochs=2,
        method="rk4",
        max_num_steps=10**7,
        n_samples=8,
        random_state=0,
        device="cpu",
    )
    params.update(overrides)
    return LatentODEForecaster(**params)


@pytest.fixture(scope="module")
def fitted() -> tuple[LatentODEForecaster, pd.DataFrame]:
    torch.set_num_threads(1)
    df = _series()
    return _tiny().fit(df), df


@pytest.mark.parametrize("seconds", [0, -1.0, math.nan, math.inf, "5", True])
def test_a_bad_limit_is_a_parameter_error(seconds: object) -> None:
    with pytest.raises(ParameterError, match="deadline"):
        with latentode.deadline(seconds):  # type: ignore[arg-type]
            pass


def test_none_sets_no_limit_and_nesting_keeps_the_earlier_limit() -> None:
    assert time_left() is None
    with latentode.deadline(None):
        assert time_left() is None
    with latentode.deadline(100.0):
        with latentode.deadline(1000.0):
            left = time_left()
            assert left is not None and left <= 100.0
        with latentode.deadline(0.01):
            time.sleep(0.05)
            with pytest.raises(DeadlineExceededError, match=r"0\.01 s"):
                check_deadline()
        check_deadline()  # the outer limit is back
    assert time_left() is None


def test_a_deadline_belongs_to_the_thread_that_set_it() -> None:
    seen: list[float | None] = []
    with latentode.deadline(0.01):
        time.sleep(0.02)
        worker = threading.Thread(target=lambda: seen.append(time_left()))
        worker.start()
        worker.join()
        with pytest.raises(DeadlineExceededError):
            check_deadline()
    assert seen == [None]


def test_a_forecast_past_its_deadline_stops_early(
    fitted: tuple[LatentODEForecaster, pd.DataFrame],
) -> None:
    est, df = fitted
    start = time.perf_counter()
    full = est.predict(df, horizon=200.0, n_points=200)
    full_s = time.perf_counter() - start
    assert np.isfinite(full["y"]).all()
    start = time.perf_counter()
    with pytest.raises(DeadlineExceededError, match="time limit"):
        with latentode.deadline(full_s / 10):
            est.predict(df, horizon=200.0, n_points=200)
    # the work stopped soon after the limit, not at the end of the forecast
    assert time.perf_counter() - start < full_s / 2
    # and the model is untouched: the same forecast without a limit
    pd.testing.assert_frame_equal(est.predict(df, horizon=200.0, n_points=200), full)


def test_a_first_fit_past_its_deadline_leaves_the_estimator_unfitted() -> None:
    df = _series()
    est = _tiny(max_epochs=10_000)
    with pytest.raises(DeadlineExceededError):
        with latentode.deadline(0.3):
            est.fit(df)
    with pytest.raises(NotFittedError):
        est.predict(df, horizon=1.0, n_points=2)


def test_a_refit_past_its_deadline_keeps_the_previous_model(
    fitted: tuple[LatentODEForecaster, pd.DataFrame],
) -> None:
    _, df = fitted
    est = _tiny().fit(df)
    before = est.predict(df, horizon=1.0, n_points=2)
    est.set_params(max_epochs=10_000)
    with pytest.raises(DeadlineExceededError):
        with latentode.deadline(0.3):
            est.fit(_series(seed=1))
    pd.testing.assert_frame_equal(est.predict(df, horizon=1.0, n_points=2), before)


def test_density_scoring_past_its_deadline_stops() -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(64, 2)), columns=["a", "b"])
    est = FFJORDDensity(hidden_dims=(8,), max_epochs=1, random_state=0, device="cpu").fit(x)
    big = pd.DataFrame(rng.normal(size=(20_000, 2)), columns=["a", "b"])
    with pytest.raises(DeadlineExceededError):
        with latentode.deadline(0.05):
            est.score_samples(big)
