"""Post-fit calibration of the observation noise on the validation series."""

from __future__ import annotations

import numpy as np
import pytest

from latentode import LatentODEForecaster, load
from latentode.estimators.forecaster._calibration import _mean_log_lik, best_noise_scale


@pytest.mark.parametrize("spread", [0.0, 0.3])
def test_best_noise_scale_recovers_the_noise_beyond_the_sample_spread(spread, rng):
    # y = mu + N(0, 0.5²) + N(0, spread²); the S posterior-sample means are mu + N(0, spread²),
    # so the predictive mixture needs sigma = 0.5 on top of the samples' own spread.
    n, s = 4000, 64
    mu = rng.normal(size=n)
    y = mu + rng.normal(scale=np.hypot(0.5, spread), size=n)
    means = mu + rng.normal(scale=spread, size=(s, n)) if spread else np.tile(mu, (s, 1))
    sigma, ll = best_noise_scale(y - means)
    assert sigma == pytest.approx(0.5, rel=0.06)
    # The ELBO's scale, the root-mean-square residual over samples, counts the samples'
    # spread twice: clearly worse when there is spread, the optimum (to grid accuracy) without.
    ll_elbo = _mean_log_lik(y - means, float(np.sqrt(np.mean((y - means) ** 2))))
    if spread:
        assert ll > ll_elbo + 0.01
    else:
        assert ll == pytest.approx(ll_elbo, abs=1e-3)


def test_fit_calibrates_the_learned_noise_and_keeps_it_through_save(periodic_df, fast, tmp_path):
    est = LatentODEForecaster(**fast).fit(periodic_df)
    cal = est.noise_calibration_
    assert cal is not None and len(cal["calibrated_std"]) == 1
    np.testing.assert_allclose(est.module_.observation.std.detach().numpy(), cal["calibrated_std"])
    assert cal["calibrated_std"] != cal["trained_std"]
    assert cal["val_predictive_nll_calibrated"] <= cal["val_predictive_nll_trained"]
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
