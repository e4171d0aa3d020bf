"""Series scores of the forecaster: the joint IWAE bound and the cross-fitted predictive score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentode import LatentODEForecaster
from latentode.estimators._tensors import PaddedSeries
from latentode.estimators.forecaster._inference import N_FOLDS, cross_fitted_scores
from latentode.exceptions import QueryError


class _Recorder:
    """Stands in for a LatentODE: records what ``bound_terms`` is given, scores 0."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def bound_terms(self, context, target, n_samples, *, eps):
        self.calls.append((context, target))

        class _Terms:
            log_px = torch.zeros(n_samples, context.n_series)

        return _Terms()


@pytest.fixture(scope="module")
def anchored_and_gaussian(periodic_df):
    params = dict(
        latent_dim=4,
        encoder_hidden_dim=8,
        field_hidden_dim=16,
        field_layers=1,
        max_epochs=3,
        batch_size=16,
        n_iwae_samples=4,
        random_state=0,
    )
    return (
        LatentODEForecaster(**params).fit(periodic_df),
        LatentODEForecaster(observation="gaussian", **params).fit(periodic_df),
    )


class _NoJacobian:
    """A frame encoder stand-in whose map to scaled values has a unit Jacobian."""

    @staticmethod
    def log_derivative(values: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(values)


def test_every_value_is_scored_once_and_never_by_a_model_that_read_it(
    anchored_and_gaussian, periodic_df
):
    data = anchored_and_gaussian[0].data_
    padded = PaddedSeries(data.transform(periodic_df), torch.device("cpu"), 5.0)
    module = _Recorder()
    scores = cross_fitted_scores(
        module, padded, 3, data=_NoJacobian(), latent_dim=2, seed=0, batch_size=10
    )
    assert scores.shape == (len(padded),) and np.all(scores == 0.0)
    chunks = list(padded.chunks(10))
    assert len(module.calls) == N_FOLDS * len(chunks) and len(chunks) > 1
    for i, (_, batch) in enumerate(chunks):
        folds = module.calls[N_FOLDS * i : N_FOLDS * (i + 1)]
        full = batch.mask  # what was observed
        targets = sum(target.mask for _, target in folds)
        torch.testing.assert_close(targets, full)  # every value scored exactly once
        for context, target in folds:
            assert (context.mask * target.mask).sum() == 0  # never read while scored
            torch.testing.assert_close(context.mask + target.mask, full)
            torch.testing.assert_close(context.values + target.values, batch.values * full)
            assert target.mask.sum() > 0 and context.mask.sum() > 0


def test_auto_is_predictive_for_the_anchored_head_and_joint_otherwise(
    anchored_and_gaussian, periodic_df
):
    anchored, gaussian = anchored_and_gaussian
    np.testing.assert_array_equal(
        anchored.score_samples(periodic_df),
        anchored.score_samples(periodic_df, kind="predictive"),
    )
    np.testing.assert_array_equal(
        gaussian.score_samples(periodic_df), gaussian.score_samples(periodic_df, kind="joint")
    )
    joint = anchored.score_samples(periodic_df, kind="joint")
    predictive = anchored.score_samples(periodic_df, kind="predictive")
    assert np.isfinite(predictive).all() and not np.allclose(joint, predictive)


def test_a_series_scores_the_same_alone_and_in_its_batch(anchored_and_gaussian, periodic_df):
    anchored, _ = anchored_and_gaussian
    together = anchored.score_samples(periodic_df, per="observation")
    ids = periodic_df["unique_id"].unique()
    for i in (0, len(ids) - 1):
        alone = anchored.score_samples(
            periodic_df[periodic_df["unique_id"] == ids[i]], per="observation"
        )
        np.testing.assert_allclose(alone[0], together[i], rtol=1e-4, atol=1e-4)


def test_a_jagged_series_scores_lower_than_itself(anchored_and_gaussian, periodic_df):
    """Alternate values pushed up and down: each half now disagrees with the other."""
    anchored, _ = anchored_and_gaussian
    first = periodic_df["unique_id"].iloc[0]
    one = periodic_df[periodic_df["unique_id"] == first].copy()
    col = next(c for c in one.columns if c not in ("unique_id", "ds"))
    observed = one[col].notna().to_numpy()
    sign = np.where(np.cumsum(observed) % 2 == 0, 1.0, -1.0)
    jagged = one.assign(**{col: one[col] + sign * 2.0 * one[col].std()})
    clean = anchored.score_samples(one, per="observation")[0]
    assert anchored.score_samples(jagged, per="observation")[0] < clean


def test_unknown_kind_is_a_clear_error(anchored_and_gaussian, periodic_df):
    with pytest.raises(QueryError, match="'kind' must be"):
        anchored_and_gaussian[0].score_samples(periodic_df, kind="iwae")
