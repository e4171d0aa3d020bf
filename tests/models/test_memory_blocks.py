"""Training's reconstruction in checkpointed blocks of query times (``memory=``): the same
bound and gradients as in one piece, for every solver path and training term."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import latentode.models.latent_ode as latent_ode
from latentode import LatentODEForecaster
from latentode.batch import IrregularBatch
from latentode.estimators.forecaster._build import build_latent_ode
from latentode.nn import _scan


def _batch(n_series: int = 3, n_steps: int = 40) -> IrregularBatch:
    g = torch.Generator().manual_seed(0)
    t = torch.sort(torch.rand(n_series, n_steps, generator=g, dtype=torch.float64) * 4, 1).values
    values = torch.randn(n_series, n_steps, 2, generator=g)
    mask = (torch.rand(n_series, n_steps, 2, generator=g) > 0.3).float()
    lengths = torch.tensor([n_steps - 9 * i for i in range(n_series)])
    steps = torch.arange(n_steps).unsqueeze(0) < lengths.unsqueeze(1)
    return IrregularBatch(t, values, mask * steps.unsqueeze(-1), lengths)


def _bound_and_grads(module, batch, eps):
    module.zero_grad()
    terms = module.bound_terms(batch, batch, eps.shape[0], eps=eps)
    loss = -terms.elbo().sum() + (0 if terms.latent_nll is None else terms.latent_nll.sum())
    loss.backward()
    grads = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
    return terms, grads


@pytest.mark.parametrize(
    "params",
    [
        {},  # the defaults: step grid, latent path and β-NLL weights
        {"latent_weight": 0.0, "beta_nll": 0.0},
        {"step_size": None},  # fixed steps between the query times themselves
        {"method": "dopri5"},
        {"observation": "gaussian"},
        {"memory": "low"},
    ],
)
def test_blocks_give_the_bound_and_gradients_of_one_piece(params, monkeypatch):
    est = LatentODEForecaster(latent_dim=3, encoder_hidden_dim=6, field_hidden_dim=8, **params)
    torch.manual_seed(0)
    module = build_latent_ode(est, n_features=2).train()
    with torch.no_grad():  # noise scales that differ between values (β-NLL weights)
        for p in module.observation.parameters():
            p.add_(0.3 * torch.randn_like(p))
    batch = _batch()
    eps = torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(1))
    whole, whole_grads = _bound_and_grads(module, batch, eps)
    monkeypatch.setitem(latent_ode.QUERY_CHUNK, module.memory, 7)  # 6 blocks, the last short
    calls = []
    real = latent_ode.checkpoint_call
    monkeypatch.setattr(latent_ode, "checkpoint_call", lambda *a: calls.append(1) or real(*a))
    blocks, block_grads = _bound_and_grads(module, batch, eps)
    assert len(calls) == 6
    for name in ("log_px", "sq_err", "latent_nll"):
        a, b = getattr(whole, name), getattr(blocks, name)
        assert (a is None) == (b is None), name
        if a is not None:
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    assert whole_grads.keys() == block_grads.keys()
    for name, grad in whole_grads.items():  # to float rounding of sums in another order
        scale = float(grad.abs().max())
        torch.testing.assert_close(block_grads[name], grad, rtol=1e-4, atol=1e-6 * scale + 1e-7)


def test_scoring_and_short_batches_run_in_one_piece(monkeypatch):
    est = LatentODEForecaster(latent_dim=3, encoder_hidden_dim=6, field_hidden_dim=8)
    module = build_latent_ode(est, n_features=2)
    calls = []
    monkeypatch.setattr(latent_ode, "checkpoint_call", lambda *a: calls.append(1))
    batch = _batch()
    with torch.no_grad():  # scoring: no graph to save
        module.train().bound_terms(batch, batch, 1)
    module.bound_terms(_batch(n_steps=30), _batch(n_steps=30), 1)  # below the block
    monkeypatch.setitem(latent_ode.QUERY_CHUNK, "auto", 30)
    module.bound_terms(_batch(n_steps=30), _batch(n_steps=30), 1)
    assert calls == []


def test_memory_is_validated(periodic_df):
    with pytest.raises(ValueError, match="memory"):
        LatentODEForecaster(memory="tiny", max_epochs=1).fit(periodic_df)


def test_a_low_memory_fit_trains_as_the_default_does(periodic_df, monkeypatch):
    """``memory="low"`` changes where the graph is kept, not what is learned: two epochs
    with every batch's reconstruction in blocks and every encoder loop checkpointed end
    at the default fit's losses and forecasts (to float rounding)."""
    kwargs = dict(max_epochs=2, batch_size=16, early_stopping=False, random_state=0)
    default = LatentODEForecaster(**kwargs).fit(periodic_df)
    monkeypatch.setitem(latent_ode.QUERY_CHUNK, "low", 8)
    monkeypatch.setattr(_scan, "SEGMENT", 4)
    calls = []
    real = _scan.checkpoint
    monkeypatch.setattr(_scan, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    low = LatentODEForecaster(memory="low", **kwargs).fit(periodic_df)
    assert len(calls) > 0
    for a, b in zip(default.history_, low.history_):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
    ids = periodic_df["unique_id"].unique()[:3]
    history = periodic_df[periodic_df["unique_id"].isin(ids)]
    np.testing.assert_allclose(
        low.predict(history, horizon=1.0, n_points=3)["y"],
        default.predict(history, horizon=1.0, n_points=3)["y"],
        rtol=1e-3,
        atol=1e-4,
    )


def test_models_saved_before_the_memory_parameter_load_with_the_default(
    periodic_df, tmp_path, saved_before
):
    from latentode import load

    est = LatentODEForecaster(max_epochs=1, batch_size=16, random_state=0).fit(periodic_df)
    path = est.save(tmp_path / "model")
    saved_before(path, [], ["memory"])
    loaded = load(path)
    assert loaded.memory == "auto" and loaded.module_.memory == "auto"
    np.testing.assert_allclose(
        loaded.predict(periodic_df, horizon=1.0, n_points=3)["y"],
        est.predict(periodic_df, horizon=1.0, n_points=3)["y"],
        rtol=1e-6,
    )
