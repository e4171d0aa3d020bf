"""``feature_transforms``: a model of ``log x`` is a model of ``x``, in ``x``'s units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from latentode import LatentODEForecaster, load
from latentode.exceptions import LongFrameError, ParameterError


@pytest.fixture(scope="module")
def pair(periodic_df):
    """The same model fitted on ``u`` (plain) and on ``x = exp(u)`` with ``"log"``: the
    scaled training values, hence the training, are the same."""
    from tests.estimators.conftest import FAST

    u = periodic_df
    x = u.assign(y=np.exp(u["y"]))
    plain = LatentODEForecaster(**FAST).fit(u)
    logged = LatentODEForecaster(**FAST, feature_transforms={"y": "log"}).fit(x)
    return u, x, plain, logged


def test_bands_and_draws_are_the_back_transformed_ones(pair):
    u, x, plain, logged = pair
    band_u = plain.predict_interval(u, horizon=1.0, n_points=4, coverage=0.8)
    band_x = logged.predict_interval(x, horizon=1.0, n_points=4, coverage=0.8)
    for side in ("y_lower", "y_upper"):
        np.testing.assert_allclose(band_x[side], np.exp(band_u[side]), rtol=1e-4)
    draws_u = plain.sample(u, horizon=1.0, n_points=4, n_samples=5)
    draws_x = logged.sample(x, horizon=1.0, n_points=4, n_samples=5)
    np.testing.assert_allclose(draws_x["y"], np.exp(draws_u["y"]), rtol=1e-4)
    assert (draws_x["y"] > 0).all()


def test_predict_averages_the_back_transformed_decodes(pair):
    u, x, plain, logged = pair
    mean_x = logged.predict(x, horizon=1.0, n_points=4)["y"].to_numpy()
    # Each posterior sample's decode, back-transformed (the median of p(x | z) for that
    # sample), averaged over the samples.
    pred = plain._columns(u, None, 1.0, 4, None, lambda pred, frame, library: pred)
    want = np.concatenate([np.exp(m[..., 0]).mean(0) for m in pred.means])
    np.testing.assert_allclose(mean_x, want, rtol=1e-5)
    # Above the back-transformed average of the decodes (Jensen: exp is convex).
    assert (mean_x > np.exp(plain.predict(u, horizon=1.0, n_points=4)["y"].to_numpy())).all()


@pytest.mark.parametrize("kind", ["joint", "predictive"])
def test_scores_are_densities_of_the_original_values(pair, kind):
    # p(x) = p(u) / x for x = exp(u): log p(x) = log p(u) - sum of log x = - sum of u.
    u, x, plain, logged = pair
    per_series = u.groupby("unique_id", sort=False)["y"].sum().to_numpy()
    np.testing.assert_allclose(
        logged.score_samples(x, kind=kind),
        plain.score_samples(u, kind=kind) - per_series,
        rtol=1e-5,
        atol=1e-3,
    )


def test_transforms_survive_save_load_and_clone(pair, tmp_path):
    _, x, _, logged = pair
    loaded = load(logged.save(tmp_path / "model"))
    assert loaded.feature_transforms == {"y": "log"}
    a = logged.predict_interval(x, horizon=1.0, n_points=3)
    b = loaded.predict_interval(x, horizon=1.0, n_points=3)
    pd.testing.assert_frame_equal(a, b)
    assert clone(logged).get_params()["feature_transforms"] == {"y": "log"}


def test_bad_transforms_are_refused_clearly(periodic_df, fast):
    with pytest.raises(ParameterError, match="'feature_transforms' parameter"):
        LatentODEForecaster(**fast, feature_transforms=["y"]).fit(periodic_df)
    with pytest.raises(LongFrameError, match=r"'y'.*'log'.*needs values > 0; series"):
        LatentODEForecaster(**fast, feature_transforms={"y": "log"}).fit(periodic_df)
    fitted = LatentODEForecaster(**fast, feature_transforms={"y": "log1p"}).fit(
        periodic_df.assign(y=periodic_df["y"].abs())
    )
    with pytest.raises(LongFrameError, match=r"'log1p'.*needs values > -1"):
        fitted.predict(periodic_df.assign(y=periodic_df["y"] - 5.0), horizon=1.0)
