"""Property-based tests: random long frames through fit and every inference method.

For any frame hypothesis can make — int, str or categorical ids; float times at scales
1e-6 … 1e6 or datetimes (naive or tz-aware); NaN patterns; duplicate rows; one-point
series; pandas or polars — each estimator either raises one of ``latentode.exceptions``
or returns finite outputs, within a per-example deadline. The default suite runs a fast
profile; ``-m slow`` runs the long one (≥ 10 minutes on 2 cores).
"""

from __future__ import annotations

import datetime
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latentode import FFJORDDensity, LatentODEForecaster, NeuralODEDynamics
from latentode.exceptions import LatentODEError

TINY = dict(max_epochs=1, batch_size=4, random_state=0, device="cpu")
FORECASTER = dict(
    TINY, latent_dim=2, encoder_hidden_dim=4, field_hidden_dim=4, field_layers=1, n_samples=4
)
FAST = settings(
    max_examples=12,
    deadline=datetime.timedelta(seconds=60),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
LONG = settings(
    max_examples=3000,
    deadline=datetime.timedelta(seconds=60),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def long_frames(draw) -> tuple[object, str]:
    n_series = draw(st.integers(1, 5))
    lengths = draw(st.lists(st.integers(1, 8), min_size=n_series, max_size=n_series))
    n_features = draw(st.integers(1, 2))
    id_kind = draw(st.sampled_from(["int", "str", "category"]))
    time_kind = draw(st.sampled_from(["float", "naive", "utc", "berlin"]))
    scale = 10.0 ** draw(st.integers(-6, 6))
    value_scale = 10.0 ** draw(st.integers(-6, 6))
    rows = []
    for s, n in enumerate(lengths):
        # One frame in five repeats a timestamp (a duplicate row); one value in five is NaN.
        gaps = [draw(st.floats(0.01, 3.0)) for _ in range(n)]
        if n > 1 and draw(st.integers(0, 4 * n_series - 1)) == 0:
            gaps[draw(st.integers(1, n - 1))] = 0.0
        t = np.cumsum(gaps) + draw(st.floats(-5.0, 5.0))
        for k in range(n):
            values = [
                float("nan") if draw(st.integers(0, 4)) == 0 else draw(st.floats(-3, 3))
                for _ in range(n_features)
            ]
            rows.append((s, float(t[k]), *(v * value_scale for v in values)))
    features = [f"x{d}" for d in range(n_features)]
    df = pd.DataFrame(rows, columns=["unique_id", "ds", *features])
    if id_kind == "str":
        df["unique_id"] = "s" + df["unique_id"].astype(str)
    elif id_kind == "category":
        df["unique_id"] = ("c" + df["unique_id"].astype(str)).astype("category")
    if time_kind == "float":
        df["ds"] = df["ds"] * scale
    else:
        start = pd.Timestamp("2024-03-30 12:00")
        # Datetimes: 1 s to ~12 days per unit (finer would round to duplicate microseconds).
        seconds = max(scale, 1.0)
        df["ds"] = start + pd.to_timedelta(df["ds"] * seconds, unit="s").dt.round("us")
        if time_kind != "naive":
            df["ds"] = df["ds"].dt.tz_localize("UTC")
            if time_kind == "berlin":
                df["ds"] = df["ds"].dt.tz_convert("Europe/Berlin")
    library = draw(st.sampled_from(["pandas", "polars"]))
    if library == "polars" and id_kind != "category":
        with warnings.catch_warnings():  # pandas' own deprecation inside polars' converter
            warnings.simplefilter("ignore")
            return pl.from_pandas(df), time_kind
    return df, time_kind


def _finite(frame) -> None:
    pdf = frame.to_pandas() if isinstance(frame, pl.DataFrame) else frame
    numeric = pdf.select_dtypes("number").drop(columns=["sample"], errors="ignore")
    assert np.isfinite(numeric.to_numpy(dtype=float)).all(), "non-finite output"


def _horizon(time_kind: str, frame) -> object:
    pdf = frame.to_pandas() if isinstance(frame, pl.DataFrame) else frame
    if time_kind == "float":
        span = float(pdf["ds"].max() - pdf["ds"].min())
        return span / 2 if span > 0 else 1.0
    span = (pdf["ds"].max() - pdf["ds"].min()) / pd.Timedelta(1, "D")  # time_unit: days
    return span / 2 if span > 0 else 1.0


def _forecaster_round(frame, time_kind: str) -> None:
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est = LatentODEForecaster(**FORECASTER, method="euler").fit(frame)
            h = _horizon(time_kind, frame)
            _finite(est.predict(frame, horizon=h, n_points=2))
            _finite(est.predict_quantiles(frame, horizon=h, n_points=2))
            _finite(est.predict_interval(frame, horizon=h, n_points=2, coverage=0.8))
            _finite(est.sample(frame, horizon=h, n_points=2, n_samples=2))
            assert np.isfinite(est.score_samples(frame)).all()
            assert np.isfinite(est.score(frame))
            assert np.isfinite(est.transform(frame)).all()
        except LatentODEError:
            pass  # a typed, worded refusal is an allowed outcome


def _dynamics_round(frame, time_kind: str) -> None:
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est = NeuralODEDynamics(**TINY, hidden_dim=4, n_layers=1).fit(frame)
            _finite(est.predict(frame, horizon=_horizon(time_kind, frame), n_points=2))
        except LatentODEError:
            pass


arrays = st.builds(
    lambda n, d, k, seed: np.random.default_rng(seed).normal(size=(n, d)) * 10.0**k,
    st.integers(2, 40),
    st.integers(1, 3),
    st.integers(-6, 6),
    st.integers(0, 10_000),
)


def _density_round(X: np.ndarray) -> None:
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est = FFJORDDensity(**TINY, hidden_dims=(4,)).fit(X)
            scores = est.score_samples(X)
            assert not np.isnan(scores).any()
            assert np.isfinite(est.sample(3, random_state=0)).all()
        except LatentODEError:
            pass


@FAST
@given(long_frames())
def test_forecaster_on_random_frames(case):
    _forecaster_round(*case)


@FAST
@given(long_frames())
def test_dynamics_on_random_frames(case):
    _dynamics_round(*case)


@FAST
@given(arrays)
def test_density_on_random_arrays(X):
    _density_round(X)


@pytest.mark.slow
@LONG
@given(long_frames())
def test_forecaster_on_random_frames_long(case):
    _forecaster_round(*case)


@pytest.mark.slow
@settings(LONG, max_examples=1500)
@given(long_frames())
def test_dynamics_on_random_frames_long(case):
    _dynamics_round(*case)


@pytest.mark.slow
@settings(LONG, max_examples=1500)
@given(arrays)
def test_density_on_random_arrays_long(X):
    _density_round(X)
