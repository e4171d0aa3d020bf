"""Static covariates and the anchored observation model of ``LatentODEForecaster``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

import latentode
from latentode import LatentODEForecaster
from latentode.baselines import LinearInterpolationBaseline
from latentode.estimators.forecaster._calibration import best_noise_scale
from latentode.exceptions import LongFrameError, ParameterError


def _ramps(n_series: int = 40, seed: int = 0) -> pd.DataFrame:
    """``y = amp · t`` on t in [0, 2]; ``amp`` (a static column) alone sets the slope."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        amp = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5)
        t = np.sort(rng.uniform(0, 2, 8))
        t[0] = 0.0
        for tt in t:
            rows.append((f"s{i:02d}", tt, amp * tt + 0.02 * rng.normal(), amp))
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y", "amp"])


_TINY = dict(
    latent_dim=2,
    encoder="gru",
    encoder_hidden_dim=8,
    field_hidden_dim=16,
    method="euler",
    step_size=0.25,
    batch_size=20,
    max_epochs=60,
    lr=2e-2,
    kl_warmup_epochs=5,
    early_stopping=False,
    random_state=0,
)


def _first_point_mse(est: LatentODEForecaster, df: pd.DataFrame) -> float:
    """Forecast t in (0, 2] from the first observation (at t = 0, value 0: no slope info)."""
    history = df.groupby("unique_id", sort=False).head(1)
    at = df[df["ds"] > 0][["unique_id", "ds"]]
    pred = est.predict(history, at)
    truth = df[df["ds"] > 0]["y"].to_numpy()
    return float(np.mean((pred["y"].to_numpy() - truth) ** 2))


def test_static_covariate_that_sets_the_trajectory_is_used():
    train, test = _ramps(40, seed=0), _ramps(20, seed=1)
    # the plain head: all the model knows then passes through z0, where the covariate enters
    plain = {**_TINY, "observation": "gaussian", "value_dropout": 0.0}
    with_static = LatentODEForecaster(**plain, static_cols=["amp"]).fit(train)
    without = LatentODEForecaster(**plain, feature_cols=["y"]).fit(train)
    mse_with, mse_without = _first_point_mse(with_static, test), _first_point_mse(without, test)
    # the history (one zero at t = 0) says nothing about the slope; the covariate does
    assert mse_with < 0.5 * mse_without, (mse_with, mse_without)
    assert with_static.static_.static_cols == ("amp",)
    assert "amp" not in with_static.feature_cols_


def test_static_covariates_survive_save_load_and_polars(tmp_path):
    df = _ramps(12)
    est = LatentODEForecaster(**{**_TINY, "max_epochs": 2}, static_cols=["amp"]).fit(df)
    before = est.predict(df, horizon=0.5, n_points=2)
    loaded = latentode.load(est.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(loaded.predict(df, horizon=0.5, n_points=2), before)
    polars_out = est.predict(pl.from_pandas(df), horizon=0.5, n_points=2)
    np.testing.assert_allclose(polars_out["y"].to_numpy(), before["y"].to_numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.drop(columns=["amp"]), "static covariate column(s) ['amp']"),
        (lambda d: d.assign(amp=d["amp"].astype(str)), "numeric static covariate column 'amp'"),
        (lambda d: d.assign(amp=np.where(d["unique_id"] == "s03", np.nan, d["amp"])), "'s03'"),
        (lambda d: d.assign(amp=d["amp"] + d["ds"]), "changes over time"),
    ],
)
def test_bad_static_covariates_are_long_frame_errors_naming_the_problem(change, message):
    est = LatentODEForecaster(**{**_TINY, "max_epochs": 1}, static_cols=["amp"])
    with pytest.raises(LongFrameError, match=None) as info:
        est.fit(change(_ramps(6)))
    assert message in str(info.value)


def test_static_cols_that_clash_or_need_the_latent_ode_are_parameter_errors():
    df = _ramps(6)
    with pytest.raises(ParameterError, match="also the id, time or feature"):
        LatentODEForecaster(**_TINY, static_cols=["ds"]).fit(df)
    with pytest.raises(ParameterError, match="model='latent_ode'"):
        LatentODEForecaster(**_TINY, static_cols=["amp"], model="ode_rnn").fit(df)


def test_anchored_model_interpolates_a_hidden_point_better_than_the_gaussian_head():
    """On ramps the anchor (linear interpolation) is nearly right; the plain head must
    recover each slope from z0 alone."""
    df = _ramps(40, seed=2).drop(columns=["amp"])
    hidden = df.groupby("unique_id", sort=False).nth(4)
    history = df.drop(index=hidden.index)
    params = {**_TINY, "max_epochs": 20}
    errors = {}
    for observation in ("gaussian", "anchored"):
        est = LatentODEForecaster(**params, observation=observation).fit(df)
        pred = est.predict(history, hidden[["unique_id", "ds"]])
        errors[observation] = float(np.mean((pred["y"].to_numpy() - hidden["y"].to_numpy()) ** 2))
    assert errors["anchored"] < 0.5 * errors["gaussian"], errors


def test_calibration_recovers_the_multiplier_of_per_point_noise_scales():
    # each value comes from one of S equally likely components N(0, (0.6 · scale_sn)²)
    rng = np.random.default_rng(0)
    n_samples, n = 8, 4000
    scales = np.exp(rng.normal(size=(n_samples, n)))  # per sample and point, as a head gives
    pick = rng.integers(n_samples, size=n)
    y = 0.6 * scales[pick, np.arange(n)] * rng.normal(size=n)
    residuals = np.broadcast_to(y, (n_samples, n))  # posterior-sample means are all 0
    c, _ = best_noise_scale(residuals, scales)
    assert c == pytest.approx(0.6, rel=0.05)


def test_a_value_hidden_beside_a_related_feature_is_read_off_it():
    """``z = -2 y``, both noisy random walks: a hidden ``z`` whose ``y`` was measured at the
    same time is best predicted from that ``y`` (the cross-feature regression), far
    better than by interpolating ``z`` itself."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        t = np.sort(rng.uniform(0, 5, 12))
        y = np.cumsum(rng.normal(size=12))
        rows += [(f"s{i:02d}", tt, yy, -2.0 * yy) for tt, yy in zip(t, y)]
    df = pd.DataFrame(rows, columns=["unique_id", "ds", "y", "z"])
    est = LatentODEForecaster(**_TINY).fit(df)
    # Fitted by least squares before training (standardised units: z = -y exactly).
    weight = float(est.module_.observation.cross_weight.detach()[1, 0])
    assert weight == pytest.approx(-1.0, abs=0.2)  # then refined by training
    hidden = df.groupby("unique_id", sort=False).nth(6)
    history = df.copy()
    history.loc[hidden.index, "z"] = np.nan
    pred = est.predict(history, hidden[["unique_id", "ds"]])
    model = float(np.mean((pred["z"].to_numpy() - hidden["z"].to_numpy()) ** 2))
    linear = LinearInterpolationBaseline().fit(df)
    lin = linear.predict(history, hidden[["unique_id", "ds"]])
    baseline = float(np.mean((lin["z"].to_numpy() - hidden["z"].to_numpy()) ** 2))
    assert model < 0.25 * baseline, (model, baseline)
