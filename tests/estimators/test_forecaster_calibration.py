"""Post-fit calibration of the observation noise on the validation series."""

from __future__ import annotations

import functools

import numpy as np
import properscoring
import pytest
import torch

from latentode import LatentODEForecaster, load
from latentode.datasets import make_lotka_volterra
from latentode.estimators.forecaster import _estimator
from latentode.estimators.forecaster._calibration import (
    _mean_log_lik,
    best_noise_scale,
    calibrate_noise,
    interval_cover,
    mixture_cdf,
    mixture_crps,
)
from latentode.exceptions import ParameterError


def _residuals(rng, spread: float, n_samples: int, n: int = 4000) -> np.ndarray:
    """``y - m_s`` ``(n_samples, n)`` for y = mu + N(0, 0.5²) + N(0, spread²) and posterior
    sample means m_s = mu + N(0, spread²): the predictive mixture needs sigma = 0.5 on top
    of the samples' own spread."""
    mu = rng.normal(size=n)
    y = mu + rng.normal(scale=np.hypot(0.5, spread), size=n)
    if not spread:
        return np.tile(y - mu, (n_samples, 1))
    return y - (mu + rng.normal(scale=spread, size=(n_samples, n)))


@pytest.mark.parametrize("spread", [0.0, 0.3])
def test_best_noise_scale_recovers_the_noise_beyond_the_sample_spread(spread, rng):
    r = _residuals(rng, spread, 64)
    sigma, ll = best_noise_scale(r)
    assert sigma == pytest.approx(0.5, rel=0.06)
    # The ELBO's scale, the root-mean-square residual over samples, counts the samples'
    # spread twice: clearly worse when there is spread, the optimum (to grid accuracy) without.
    ll_elbo = _mean_log_lik(r, float(np.sqrt(np.mean(r**2))))
    if spread:
        assert ll > ll_elbo + 0.01
    else:
        assert ll == pytest.approx(ll_elbo, abs=1e-3)


def test_mixture_crps_is_the_closed_form_of_the_gaussian_mixture(rng):
    # One component: properscoring's closed form of a Gaussian's CRPS.
    y, m, s = rng.normal(size=50), rng.normal(size=50), rng.uniform(0.1, 2.0, size=50)
    want = properscoring.crps_gaussian(y, mu=m, sig=s).mean()
    assert mixture_crps((y - m)[None], s[None]) == pytest.approx(want, rel=1e-10)
    # Three components: Monte Carlo of E|X - y| - E|X - X'| / 2 with independent draws.
    means, scales = rng.normal(size=(3, 4)), rng.uniform(0.2, 1.0, size=(3, 4))
    y = rng.normal(size=4)

    def draws() -> np.ndarray:
        k, col = rng.integers(0, 3, size=(400_000, 4)), np.arange(4)
        return means[k, col] + scales[k, col] * rng.normal(size=(400_000, 4))

    x, x2 = draws(), draws()
    want = (np.abs(x - y).mean(0) - 0.5 * np.abs(x - x2).mean(0)).mean()
    assert mixture_crps(y - means, scales) == pytest.approx(want, rel=5e-3)


@pytest.mark.parametrize("spread", [0.0, 0.3])
def test_crps_scale_recovers_the_noise_beyond_the_sample_spread(spread, rng):
    # The CRPS is a proper score: the generating noise scale minimises it in expectation.
    r = _residuals(rng, spread, 16)
    sigma, crps = best_noise_scale(r, metric="crps")
    assert sigma == pytest.approx(0.5, rel=0.08)
    assert crps <= mixture_crps(r, np.full(r.shape, 1.2 * sigma))
    assert crps <= mixture_crps(r, np.full(r.shape, 0.8 * sigma))


def test_crps_scale_keeps_heavy_tails_from_widening_the_bands(rng):
    # Student-t residuals (3 degrees of freedom): the likelihood widens the Gaussian to
    # reach the tails, so its central 80 % band over-covers; the CRPS's band stays closer.
    r = rng.standard_t(3, size=(1, 20_000))
    coverage = {}
    for metric in ("likelihood", "crps"):
        sigma, _ = best_noise_scale(r, metric=metric)
        coverage[metric] = float(np.mean(np.abs(r) <= 1.2816 * sigma))
    assert abs(coverage["crps"] - 0.8) < abs(coverage["likelihood"] - 0.8)
    assert coverage["likelihood"] > 0.83


def test_fit_calibrates_the_learned_noise_and_keeps_it_through_save(periodic_df, fast, tmp_path):
    est = LatentODEForecaster(**fast).fit(periodic_df)
    cal = est.noise_calibration_
    assert cal is not None and len(cal["calibrated_std"]) == 1
    np.testing.assert_allclose(est.module_.observation.std.detach().numpy(), cal["calibrated_std"])
    assert cal["metric"] == "crps" and cal["calibrated_std"] != cal["trained_std"]
    assert cal["val_crps_calibrated"] <= cal["val_crps_trained"]
    loaded = load(est.save(tmp_path / "model"))
    assert loaded.noise_calibration_ == cal
    loaded_std = loaded.module_.observation.std.detach().numpy()
    np.testing.assert_allclose(loaded_std, cal["calibrated_std"])

    # Off, or with a fixed noise scale, or without validation series: the trained scale stays.
    for params in ({"calibrate_noise": False}, {"obs_std": 0.2}, {"early_stopping": False}):
        other = LatentODEForecaster(**{**fast, **params}).fit(periodic_df)
        assert other.noise_calibration_ is None
        if params == {"calibrate_noise": False}:  # same data and seed: the scale est trained
            trained = other.module_.observation.std.detach().numpy()
            np.testing.assert_allclose(trained, cal["trained_std"], rtol=1e-6)


def test_calibration_only_changes_the_spread_not_the_mean(periodic_df, fast):
    a = LatentODEForecaster(**fast).fit(periodic_df)
    b = LatentODEForecaster(**{**fast, "calibrate_noise": False}).fit(periodic_df)
    pa = a.predict_interval(periodic_df, horizon=1.0, n_points=3, coverage=0.8)
    pb = b.predict_interval(periodic_df, horizon=1.0, n_points=3, coverage=0.8)
    np.testing.assert_allclose(pa["y"].to_numpy(), pb["y"].to_numpy(), rtol=1e-6)
    width_a = (pa["y_upper"] - pa["y_lower"]).mean()
    width_b = (pb["y_upper"] - pb["y_lower"]).mean()
    ratio = a.noise_calibration_["calibrated_std"][0] / a.noise_calibration_["trained_std"][0]
    assert (width_a < width_b) == (ratio < 1)


def test_each_metric_wins_on_its_own_score_after_the_same_training(periodic_df, fast):
    # Same data and seed, so the same training and validation residuals: the scale each
    # metric picks scores at least as well on that metric as the other's pick does.
    crps = LatentODEForecaster(**fast).fit(periodic_df).noise_calibration_
    lik = LatentODEForecaster(**{**fast, "calibrate_noise": "likelihood"}).fit(periodic_df)
    lik = lik.noise_calibration_
    assert crps["trained_std"] == pytest.approx(lik["trained_std"], rel=1e-6)
    assert crps["calibrated_std"] != lik["calibrated_std"]
    assert crps["val_crps_calibrated"] <= lik["val_crps_calibrated"] * (1 + 1e-4)
    assert lik["val_predictive_nll_calibrated"] <= crps["val_predictive_nll_calibrated"] + 1e-4


@pytest.mark.parametrize(("value", "metric"), [(True, "crps"), ("likelihood", "likelihood")])
def test_calibration_metric_is_the_one_asked_for(periodic_df, fast, value, metric):
    est = LatentODEForecaster(**{**fast, "calibrate_noise": value}).fit(periodic_df)
    cal = est.noise_calibration_
    assert cal["metric"] == metric
    if metric == "likelihood":
        assert cal["val_predictive_nll_calibrated"] <= cal["val_predictive_nll_trained"]
    else:
        assert cal["val_crps_calibrated"] <= cal["val_crps_trained"]


def test_unknown_calibration_metric_is_refused(periodic_df, fast):
    with pytest.raises(ParameterError, match="'calibrate_noise' parameter"):
        LatentODEForecaster(**{**fast, "calibrate_noise": "mse"}).fit(periodic_df)


def test_values_seen_beside_another_feature_get_their_own_noise_multiplier(
    fast, tmp_path, monkeypatch
):
    # Two features observed at shared times with values missing at random: validation
    # values hidden beside a shown one (the cross-feature regime) and alone both occur.
    data = make_lotka_volterra(n_series=80, n_points=20, random_state=0)
    rng = np.random.default_rng(0)
    for col in ("prey", "predator"):
        data.loc[rng.random(len(data)) < 0.3, col] = np.nan
    fast = {**fast, "validation_fraction": 0.5}
    est = LatentODEForecaster(**fast).fit(data)
    cal = est.noise_calibration_
    ratio = np.asarray(cal["concurrent_ratio"])
    assert ratio.shape == (2,) and not np.allclose(ratio, 1.0)
    head = est.module_.observation
    np.testing.assert_allclose(head.log_concurrent.numpy(), np.log(ratio), rtol=1e-5)
    # Its own multiplier per regime scores the validation values at least as well as one.
    monkeypatch.setattr(
        _estimator, "calibrate_noise", functools.partial(calibrate_noise, split_concurrent=False)
    )
    single = LatentODEForecaster(**fast).fit(data).noise_calibration_
    assert single["concurrent_ratio"] == [1.0, 1.0]
    assert cal["val_crps_calibrated"] <= single["val_crps_calibrated"] * (1 + 1e-3)
    loaded = load(est.save(tmp_path / "model"))
    torch.testing.assert_close(loaded.module_.observation.log_concurrent, head.log_concurrent)


def test_interval_cover_of_one_gaussian_is_the_share_within_1_28_scales(rng):
    r, s = rng.normal(size=(1, 500)), rng.uniform(0.5, 2.0, size=(1, 500))
    want = np.mean(np.abs(r / s) <= 1.2815516)
    assert interval_cover(r, s) == pytest.approx(want, abs=1e-12)
    # a two-component mixture: the PIT is the mean of the components' CDFs
    r2 = np.stack([r[0], r[0] + 1.0])
    from scipy.stats import norm

    np.testing.assert_allclose(mixture_cdf(r2, np.ones_like(r2)), norm.cdf(r2).mean(axis=0))


def test_the_summary_reports_the_validation_coverage(fitted):
    cal = fitted.noise_calibration_
    assert 0.0 < cal["val_coverage_calibrated"] <= 1.0
