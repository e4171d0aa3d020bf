"""The ODE-RNN baseline: causal predictions and its use through the forecaster."""

from __future__ import annotations

import numpy as np
import torch

from latentode import LatentODEForecaster
from latentode.batch import IrregularBatch
from latentode.models.ode_rnn import ODERNN
from latentode.nn.observation import GaussianObservation
from latentode.nn.solve import SolverConfig


def _model() -> ODERNN:
    return ODERNN(1, 6, GaussianObservation(6, 1), solver=SolverConfig(method="rk4", step_size=0.1))


def test_training_targets_only_see_strictly_earlier_observations():
    torch.manual_seed(0)
    model = _model()
    times = torch.tensor([[0.0, 0.5, 1.0, 1.5]], dtype=torch.float64)
    values = torch.randn(1, 4, 1)
    mask = torch.ones(1, 4, 1)
    lengths = torch.tensor([4])
    context = IrregularBatch(times, values, mask, lengths)
    base = model.bound_terms(context, context)
    # changing the last value cannot change the likelihood of the earlier ones
    changed = values.clone()
    changed[0, 3, 0] += 10.0
    changed_context = IrregularBatch(times, changed, mask, lengths)
    terms = model.bound_terms(
        changed_context,
        changed_context.with_steps(times[:, :3], changed[:, :3], mask[:, :3], torch.tensor([3])),
    )
    first3 = model.bound_terms(
        context, context.with_steps(times[:, :3], values[:, :3], mask[:, :3], torch.tensor([3]))
    )
    torch.testing.assert_close(terms.log_px, first3.log_px)
    assert base.n_obs.item() == 3  # the first observation has nothing before it
    assert torch.all(base.kl == 0)


def test_forecaster_with_ode_rnn_baseline(periodic_df):
    est = LatentODEForecaster(
        model="ode_rnn",
        encoder_hidden_dim=8,
        field_hidden_dim=16,
        max_epochs=3,
        batch_size=16,
        n_samples=8,
        random_state=0,
        method="rk4",
    ).fit(periodic_df)
    assert est.history_[-1]["train_loss"] < est.history_[0]["train_loss"]
    iv = est.predict_interval(periodic_df, horizon=1.0, n_points=3, coverage=0.8)
    assert (iv["y_lower"] < iv["y"]).all() and (iv["y"] < iv["y_upper"]).all()
    assert np.isfinite(est.score_samples(periodic_df)).all()
    assert est.transform(periodic_df).shape == (periodic_df["unique_id"].nunique(), 8)
