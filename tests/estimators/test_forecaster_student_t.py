"""Student-t observation noise (``noise="student_t"``): densities, draws, calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

import latentode
from latentode import LatentODEForecaster
from latentode.datasets import make_periodic
from latentode.estimators.forecaster._calibration import (
    best_noise_scale,
    best_tails,
    mixture_crps,
    student_t_mixture_crps,
)
from latentode.exceptions import ParameterError
from latentode.nn.noise import noise_log_density, standardised_noise


def test_log_density_is_students_t_where_df_is_finite_and_gaussian_where_not(rng):
    x = torch.as_tensor(rng.normal(size=(5, 3)) * 3)
    mean = torch.as_tensor(rng.normal(size=(5, 3)))
    log_std = torch.as_tensor(rng.normal(size=(5, 3)) * 0.3)
    df = torch.tensor([2.5, math.inf, 7.0], dtype=torch.float64)
    got = noise_log_density(x, mean, log_std, df).numpy()
    scale = log_std.exp().numpy()
    for d, nu in enumerate(df.tolist()):
        u = x[:, d].numpy(), mean[:, d].numpy(), scale[:, d]
        if math.isinf(nu):
            want = stats.norm.logpdf(u[0], loc=u[1], scale=u[2])
        else:
            want = stats.t.logpdf(u[0], nu, loc=u[1], scale=u[2])
        np.testing.assert_allclose(got[:, d], want, rtol=1e-10)


def test_standardised_draws_follow_each_features_family_and_do_not_depend_on_the_query_count():
    normal = torch.randn((4000, 1, 3, 2), generator=torch.Generator().manual_seed(0))
    df = torch.tensor([3.0, math.inf])
    draws = standardised_noise(normal, df, seed=5)
    torch.testing.assert_close(draws[..., 1], normal[..., 1])  # Gaussian: unchanged
    heavy = draws[..., 0].flatten().numpy()
    assert stats.kstest(heavy, stats.t(3).cdf).pvalue > 1e-3
    assert stats.kstest(heavy, stats.norm.cdf).pvalue < 1e-6
    # A query position gets the same numbers whatever the number of queries.
    fewer = standardised_noise(normal[:, :, :2].contiguous(), df, seed=5)
    torch.testing.assert_close(fewer, draws[:, :, :2])


def test_student_t_mixture_crps_matches_monte_carlo_and_the_gaussian_limit(rng):
    r = rng.normal(size=(1, 300)) + 0.3 * rng.normal(size=(6, 300))
    s = np.exp(0.2 * rng.normal(size=(6, 300)))
    # ν → ∞: the Gaussian mixture's closed form.
    assert student_t_mixture_crps(r, s, 1e7) == pytest.approx(mixture_crps(r, s), rel=5e-3)
    # ν = 3: Monte Carlo of E|X - y| - E|X - X'| / 2 with independent draws.
    n = 50_000
    k, k2 = rng.integers(0, 6, size=(n, 300)), rng.integers(0, 6, size=(n, 300))
    col = np.arange(300)
    x = -r[k, col] + s[k, col] * rng.standard_t(3, size=(n, 300))
    x2 = -r[k2, col] + s[k2, col] * rng.standard_t(3, size=(n, 300))
    want = (np.abs(x).mean(0) - 0.5 * np.abs(x - x2).mean(0)).mean()
    assert student_t_mixture_crps(r, s, 3.0) == pytest.approx(want, rel=4e-2)  # MC: 1 % sd


@pytest.mark.parametrize(("true_df", "heavy"), [(3.0, True), (math.inf, False)])
def test_best_tails_tells_heavy_tails_from_gaussian_ones(rng, true_df, heavy):
    noise = rng.standard_t(true_df, size=4000) if heavy else rng.normal(size=4000)
    r = np.tile(0.5 * noise, (8, 1))
    df = best_tails(r, np.ones_like(r))
    if heavy:
        assert 2.0 <= df <= 6.0
    else:
        assert df >= 20.0
    # The CRPS width for a Student-t: the generating scale, to search accuracy.
    c, _ = best_noise_scale(r, np.ones_like(r), metric="crps", df=3.0 if heavy else math.inf)
    assert c == pytest.approx(0.5, rel=0.1)


def test_student_t_noise_is_calibrated_scored_and_saved(fast, tmp_path):
    # Periodic series with Student-t (2 degrees of freedom) noise; a large validation set,
    # so the calibration has a few hundred values to tell the tails by.
    data = make_periodic(n_series=40, n_points=20, observed_fraction=0.6, random_state=2)
    data["y"] += 0.3 * np.random.default_rng(3).standard_t(2.0, len(data))
    fast = {**fast, "validation_fraction": 0.4}
    gauss = LatentODEForecaster(**fast).fit(data)
    est = LatentODEForecaster(**{**fast, "noise": "student_t"}).fit(data)
    cal = est.noise_calibration_
    df = est.module_.observation.df.clone()
    assert cal["df"][0] is not None and float(df[0]) == cal["df"][0]
    assert gauss.noise_calibration_["df"] == [None]
    assert math.isinf(float(gauss.module_.observation.df[0]))
    # Training is unchanged: the same means; the tails only reach the noise.
    pa = est.predict_interval(data, horizon=1.0, n_points=3, coverage=0.8)
    pb = gauss.predict_interval(data, horizon=1.0, n_points=3, coverage=0.8)
    np.testing.assert_allclose(pa["y"].to_numpy(), pb["y"].to_numpy(), rtol=1e-6)
    assert not np.allclose(pa["y_upper"].to_numpy(), pb["y_upper"].to_numpy())
    # The heavier tails win the validation likelihood they were chosen by.
    assert (
        cal["val_predictive_nll_calibrated"]
        < gauss.noise_calibration_["val_predictive_nll_calibrated"]
    )
    # score_samples scores with the Student-t density.
    scores = est.score_samples(data)
    with torch.no_grad():
        est.module_.observation.inv_df.fill_(0.0)
    assert not np.allclose(est.score_samples(data), scores)
    with torch.no_grad():
        est.module_.observation.inv_df.copy_(1.0 / df)
    loaded = latentode.load(est.save(tmp_path / "model"))
    torch.testing.assert_close(loaded.module_.observation.df, df)
    np.testing.assert_allclose(loaded.score_samples(data), scores, rtol=1e-6)
    again = loaded.predict_interval(data, horizon=1.0, n_points=3, coverage=0.8)
    np.testing.assert_allclose(again["y_upper"].to_numpy(), pa["y_upper"].to_numpy(), rtol=1e-6)


def test_models_saved_before_the_noise_family_load_as_gaussian(
    periodic_df, fast, tmp_path, saved_before
):
    est = LatentODEForecaster(**fast).fit(periodic_df)
    path = est.save(tmp_path / "model")
    before = est.predict_interval(periodic_df, horizon=1.0, n_points=3)
    saved_before(path, ["observation.inv_df", "observation.log_concurrent"], ["noise"])
    loaded = latentode.load(path)
    assert math.isinf(float(loaded.module_.observation.df[0]))
    assert not loaded.module_.observation.log_concurrent.any()
    after = loaded.predict_interval(periodic_df, horizon=1.0, n_points=3)
    np.testing.assert_allclose(after["y_upper"], before["y_upper"], rtol=1e-6)


@pytest.mark.parametrize("params", [{"calibrate_noise": False}, {"obs_std": 0.2}])
def test_student_t_without_a_calibration_is_refused(periodic_df, fast, params):
    est = LatentODEForecaster(**{**fast, "noise": "student_t", **params})
    with pytest.raises(ParameterError, match="noise='student_t'"):
        est.fit(periodic_df)
