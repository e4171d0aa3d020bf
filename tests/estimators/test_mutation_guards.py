"""Tests that catch specific silent regressions, through the public API only.

Each test here was checked to fail when the code it guards is broken in a specific way
(the "mutation" named in its docstring) and to pass on the intact code:

1. training-context subsampling off (the encoder sees every observation in training);
2. ``bound="iwae"`` silently training the ELBO;
3. ``time_dependent=True`` ignored by the latent vector field;
4. ``EarlyStopping`` not restoring the best epoch's weights at the end of a fit;
5. ``score_samples`` dropping the Jacobian of the feature scaling (original units).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from latentode import FFJORDDensity, LatentODEForecaster, NeuralODEDynamics
from latentode.datasets import make_linear_spiral, make_periodic
from latentode.training import Callback, EarlyStopping

TINY = dict(
    latent_dim=2,
    encoder_hidden_dim=8,
    field_hidden_dim=8,
    field_layers=1,
    method="euler",
    step_size=0.25,
    max_epochs=2,
    batch_size=16,  # >= the number of series: one optimisation step per epoch
    n_samples=4,
    n_iwae_samples=4,
    validation_fraction=0.25,
    random_state=0,
)


@pytest.fixture(scope="module")
def periodic() -> pd.DataFrame:
    return make_periodic(n_series=8, n_points=12, observed_fraction=0.6, random_state=1)


def _train_losses(est: Any) -> list[float]:
    return [h["train_loss"] for h in est.history_]


# ------------------------------------------------------------------ 1. training context
@pytest.mark.parametrize(
    "subsampling",
    [
        pytest.param(dict(context_dropout=0.5), id="dropout"),
        pytest.param(dict(extrap_prob=1.0, min_prefix=0.3), id="prefix"),
    ],
)
def test_training_context_subsampling_changes_what_the_encoder_sees(periodic, subsampling):
    """Mutation: ``sample_context`` keeps every observation (subsampling off).

    With ``context_dropout=0`` and ``extrap_prob=0`` the encoder sees every observation;
    hiding observations (dropout) or showing prefixes must change the very first training
    loss, which is computed from the same initial weights and the same posterior noise.
    """
    full = dict(context_dropout=0.0, extrap_prob=0.0)
    seen_all = LatentODEForecaster(**TINY, **full).fit(periodic)
    subsampled = LatentODEForecaster(**TINY, **{**full, **subsampling}).fit(periodic)
    first_all, first_sub = _train_losses(seen_all)[0], _train_losses(subsampled)[0]
    assert abs(first_sub - first_all) > 1e-3 * abs(first_all), (first_sub, first_all)
    a = seen_all.predict(periodic, horizon=1.0, n_points=2)["y"].to_numpy()
    b = subsampled.predict(periodic, horizon=1.0, n_points=2)["y"].to_numpy()
    assert not np.allclose(a, b, rtol=0, atol=1e-6)


# ------------------------------------------------------------------ 2. IWAE bound
def test_iwae_bound_trains_a_tighter_objective_than_the_elbo(periodic):
    """Mutation: ``bound="iwae"`` trains the ELBO.

    With one optimisation step per epoch, epoch 1's training loss is evaluated at the
    initial weights on the same contexts and the same posterior draws for both bounds; with
    8 importance samples and the KL at full weight the IWAE bound is much tighter, so its
    loss (the negative bound per observed value) is clearly lower.
    """
    params = dict(TINY, max_epochs=1, n_train_samples=8, kl_warmup_epochs=0)
    elbo = LatentODEForecaster(**params, bound="elbo").fit(periodic)
    iwae = LatentODEForecaster(**params, bound="iwae").fit(periodic)
    elbo_loss, iwae_loss = _train_losses(elbo)[0], _train_losses(iwae)[0]
    assert iwae_loss < elbo_loss - 0.05 * abs(elbo_loss), (iwae_loss, elbo_loss)
    # The validation loss (after the step) is the same bound on held-out series.
    assert iwae.history_[0]["val_loss"] < elbo.history_[0]["val_loss"]


# ------------------------------------------------------------------ 3. time dependence
def _shift_response(est: LatentODEForecaster, X: pd.DataFrame, shift: float) -> float:
    """Largest change of the forecast when history and queries move ``shift`` later."""
    at = pd.DataFrame(
        {"unique_id": X["unique_id"].unique(), "ds": X.groupby("unique_id", sort=False)["ds"].max()}
    ).reset_index(drop=True)
    at = pd.concat([at.assign(ds=at["ds"] + dt) for dt in (0.3, 1.0)], ignore_index=True)
    before = est.predict(X, at=at)["y"].to_numpy()
    after = est.predict(X.assign(ds=X["ds"] + shift), at=at.assign(ds=at["ds"] + shift))
    return float(np.abs(after["y"].to_numpy() - before).max())


def test_time_dependent_field_sees_absolute_time(periodic):
    """Mutation: the vector field ignores ``t`` with ``time_dependent=True``.

    Time is normalised by an origin fitted in ``fit``; moving a series (history and query
    times) later at predict time leaves an autonomous model's forecast unchanged but must
    change a time-dependent one's.
    """
    autonomous = LatentODEForecaster(**TINY, time_dependent=False).fit(periodic)
    dependent = LatentODEForecaster(**TINY, time_dependent=True).fit(periodic)
    assert _shift_response(autonomous, periodic, 3.0) < 1e-5
    assert _shift_response(dependent, periodic, 3.0) > 1e-3


# ------------------------------------------------------------------ 4. best weights
class InjectMetric(Callback):
    """Adds a scripted metric to each epoch's logs (for the callbacks after it)."""

    def __init__(self, name: str, values: list[float]) -> None:
        self.name = name
        self.values = values

    def on_epoch_end(self, trainer: Any, logs: dict[str, Any]) -> None:
        logs[self.name] = self.values[logs["epoch"] - 1]


def _forecaster_outputs(est: Any, X: Any) -> np.ndarray:
    return np.r_[est.predict(X, horizon=1.0, n_points=2)["y"].to_numpy(), est.score_samples(X)]


def _dynamics_outputs(est: Any, X: Any) -> np.ndarray:
    return est.predict(X, horizon=1.0, n_points=2)[["x", "y"]].to_numpy().ravel()


def _density_outputs(est: Any, X: Any) -> np.ndarray:
    return est.score_samples(X)


def _spiral() -> pd.DataFrame:
    return make_linear_spiral(n_series=4, n_points=40, t_max=4.0, random_state=1)[0]


def _blobs() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(64, 2)) * np.array([3.0, 0.5]) + 10.0


BEST_WEIGHT_CASES = [
    pytest.param(
        LatentODEForecaster,
        {k: v for k, v in TINY.items() if k != "max_epochs"},
        lambda: make_periodic(n_series=8, n_points=12, observed_fraction=0.6, random_state=1),
        _forecaster_outputs,
        id="LatentODEForecaster",
    ),
    pytest.param(
        NeuralODEDynamics,
        dict(hidden_dim=8, method="rk4", lr=3e-2, random_state=0),
        _spiral,
        _dynamics_outputs,
        id="NeuralODEDynamics",
    ),
    pytest.param(
        FFJORDDensity,
        dict(hidden_dims=(8,), method="rk4", eval_method="rk4", batch_size=32, random_state=0),
        _blobs,
        _density_outputs,
        id="FFJORDDensity",
    ),
]


@pytest.mark.parametrize(("cls", "params", "data", "outputs"), BEST_WEIGHT_CASES)
def test_early_stopping_restores_the_best_epochs_weights(cls, params, data, outputs):
    """Mutation: ``EarlyStopping.on_fit_end`` does not load the best weights back.

    A scripted metric is best at epoch 2 of 4: the fitted model must be the one a fit of
    exactly 2 epochs gives (same seed, same data), not the last epoch's.
    """
    X = data()
    params = dict(params, early_stopping=False)
    stopper = EarlyStopping("scripted", patience=10)
    est = cls(
        **params, max_epochs=4, callbacks=[InjectMetric("scripted", [3.0, 1.0, 2.0, 4.0]), stopper]
    ).fit(X)
    assert est.n_epochs_ == len(est.history_) == 4
    assert est.best_epoch_ == 2
    two_epochs = cls(**params, max_epochs=2).fit(X)
    four_epochs = cls(**params, max_epochs=4).fit(X)
    assert not np.allclose(outputs(two_epochs, X), outputs(four_epochs, X), rtol=1e-4)
    np.testing.assert_allclose(outputs(est, X), outputs(two_epochs, X), rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------ 5. original units
def test_scaling_a_feature_shifts_each_series_score_by_its_jacobian(periodic):
    """Mutation: ``score_samples`` drops the Jacobian of the feature standardisation.

    Multiplying the feature by 10 (fit and score) gives the same standardised problem, so
    each series' log-likelihood in original units drops by exactly
    ``n_observed * log(10)``; the same ``random_state`` makes the Monte-Carlo noise common.
    """
    scaled = periodic.assign(y=periodic["y"] * 10.0)
    base = LatentODEForecaster(**TINY).fit(periodic)
    tenfold = LatentODEForecaster(**TINY).fit(scaled)
    n_observed = periodic.groupby("unique_id", sort=False)["y"].count().to_numpy()
    expected = base.score_samples(periodic) - n_observed * np.log(10.0)
    np.testing.assert_allclose(tenfold.score_samples(scaled), expected, rtol=0, atol=1e-3)
    # score() is the same bound per observed value.
    assert tenfold.score(scaled) == pytest.approx(base.score(periodic) - np.log(10.0), abs=1e-4)
