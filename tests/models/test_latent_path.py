"""The anchored head's training-only terms (the latent path's density, β-NLL weights):
what they compute, where they enter, and models saved before them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import latentode
from latentode import LatentODEForecaster
from latentode.batch import IrregularBatch
from latentode.estimators.forecaster._build import build_latent_ode
from latentode.models._anchors import anchor_features
from latentode.models.latent_ode import _beta_weights
from latentode.nn.anchored_observation import AnchoredObservation
from latentode.nn.solve import solve_on_grids


def _batch() -> IrregularBatch:
    g = torch.Generator().manual_seed(0)
    times = torch.tensor([[0.0, 0.4, 1.1, 2.0], [0.0, 0.7, 1.5, 1.5]], dtype=torch.float64)
    values = torch.randn(2, 4, 2, generator=g)
    mask = (torch.rand(2, 4, 2, generator=g) > 0.3).float()
    return IrregularBatch(times, values, mask, torch.tensor([4, 3]))


def test_latent_log_prob_is_the_gaussian_density_of_the_latent_decode():
    torch.manual_seed(0)
    head = AnchoredObservation(latent_dim=3, n_features=2, hidden_dim=8)
    with torch.no_grad():
        head.latent_log_std.copy_(torch.tensor([-0.5, 0.3]))
    z = torch.randn(5, 2, 4, 3)
    batch = _batch()
    got = head.latent_log_prob(z, batch.values, batch.mask)
    normal = torch.distributions.Normal(head.decoder(z), head.latent_log_std.exp())
    expected = (normal.log_prob(batch.values) * batch.mask).sum(dim=(-1, -2))
    assert got.shape == (5, 2)
    torch.testing.assert_close(got, expected)
    # it reads only the latent decode: the anchored mixture's own scale plays no part
    with torch.no_grad():
        head.log_std.add_(3.0)
    torch.testing.assert_close(head.latent_log_prob(z, batch.values, batch.mask), expected)


def _module(latent_weight: float, beta_nll: float = 0.0) -> torch.nn.Module:
    params = LatentODEForecaster(
        latent_dim=3,
        encoder_hidden_dim=6,
        field_hidden_dim=8,
        method="euler",
        latent_weight=latent_weight,
        beta_nll=beta_nll,
    )
    torch.manual_seed(0)
    return build_latent_ode(params, n_features=2)


@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_latent_path_terms_are_weighted_and_enter_only_in_training(weight):
    batch = _batch()
    model = _module(weight).train()
    eps = torch.randn(1, 2, 3, generator=torch.Generator().manual_seed(1))
    terms = model.bound_terms(batch, batch, 1, eps=eps)
    assert terms.latent_nll is not None
    # the same posterior draw (eps) decoded by hand
    post = model.posterior(model.summary(batch), 1, eps=eps)
    z = solve_on_grids(model.field, post.z0, batch.times[:, 0], batch.times, model.solver)
    anchors = anchor_features(batch, batch.times)
    by_hand = model.observation.training_terms(z, anchors, batch.values, batch.mask)[2]
    torch.testing.assert_close(terms.latent_nll, weight * by_hand)
    # scoring (eval mode) and a zero weight leave it out: the bound itself never changes
    assert model.eval().bound_terms(batch, batch, 1, eps=eps).latent_nll is None
    off = _module(0.0).train().bound_terms(batch, batch, 1, eps=eps)
    assert off.latent_nll is None
    torch.testing.assert_close(off.log_px, terms.log_px)


def test_latent_path_term_trains_the_latent_scale_and_the_decoder(periodic_df):
    on = LatentODEForecaster(max_epochs=2, method="euler", random_state=0).fit(periodic_df)
    off = LatentODEForecaster(max_epochs=2, method="euler", latent_weight=0.0, random_state=0)
    off.fit(periodic_df)
    assert "latent_nll" in on.history_[-1] and "latent_nll" not in off.history_[-1]
    assert np.isfinite(on.history_[-1]["latent_nll"])
    moved = on.module_.observation.latent_log_std.detach()
    assert not torch.equal(moved, torch.zeros_like(moved))
    untouched = off.module_.observation.latent_log_std.detach()
    torch.testing.assert_close(untouched, torch.zeros_like(untouched))
    # with the term, the decoder is trained towards the whole series, so it ends elsewhere
    assert not torch.allclose(
        on.module_.observation.decoder.weight, off.module_.observation.decoder.weight
    )


def test_models_saved_before_the_latent_path_load_and_predict_the_same(
    periodic_df, tmp_path, saved_before
):
    est = LatentODEForecaster(max_epochs=1, method="euler", random_state=0).fit(periodic_df)
    path = tmp_path / "model"
    est.save(path)
    before = est.predict(periodic_df, horizon=1.0, n_points=3)
    # as an older version wrote it: no latent-path scale and no latent_weight parameter
    saved_before(path, ["observation.latent_log_std"], ["latent_weight"])
    loaded = latentode.load(path)
    after = loaded.predict(periodic_df, horizon=1.0, n_points=3)
    np.testing.assert_allclose(after["y"], before["y"], rtol=1e-6, atol=1e-7)
    tau = loaded.module_.observation.latent_log_std.detach()
    assert torch.equal(tau, torch.zeros_like(tau)) and math.isfinite(float(tau.sum()))


def test_beta_weights_follow_the_variance_have_mean_one_and_no_gradient():
    log_std = torch.log(torch.tensor([[[[0.1, 0.2], [0.4, 0.8]]]])).requires_grad_(True)
    mask = torch.tensor([[[1.0, 1.0], [1.0, 0.0]]])
    w = _beta_weights(log_std, mask, 0.5)
    assert not w.requires_grad
    sigma = log_std.detach().exp()
    expected = sigma / (sigma * mask).sum() * mask.sum()  # σ^(2·0.5), mean 1 where observed
    torch.testing.assert_close(w, expected)
    torch.testing.assert_close((w * mask).sum() / mask.sum(), torch.tensor(1.0))
    torch.testing.assert_close(_beta_weights(log_std, mask, 0.0), torch.ones_like(w))


def test_beta_nll_weights_the_training_bound_only():
    batch = _batch()
    eps = torch.randn(1, 2, 3, generator=torch.Generator().manual_seed(1))
    plain = _module(0.0, beta_nll=0.0).train()
    with torch.no_grad():  # noise scales that differ between values (untrained: all equal)
        plain.observation.net[-1].weight.normal_(
            0.0, 0.5, generator=torch.Generator().manual_seed(2)
        )
    weighted = _module(0.0, beta_nll=0.5).train()
    weighted.load_state_dict(plain.state_dict())
    a = plain.bound_terms(batch, batch, 1, eps=eps)
    b = weighted.bound_terms(batch, batch, 1, eps=eps)
    # by hand: the same means and scales, each value's log-density weighted
    mean, log_std = plain.decode(
        plain.posterior(plain.summary(batch), 1, eps=eps).z0, batch, batch.times
    )
    w = _beta_weights(log_std, batch.mask, 0.5)
    by_hand = plain.observation.log_prob(mean, batch.values, batch.mask * w, log_std)
    torch.testing.assert_close(b.log_px, by_hand)
    assert not torch.allclose(a.log_px, b.log_px)
    # scoring: the plain bound whatever beta_nll is
    torch.testing.assert_close(
        weighted.eval().bound_terms(batch, batch, 1, eps=eps).log_px,
        plain.eval().bound_terms(batch, batch, 1, eps=eps).log_px,
    )


@pytest.mark.parametrize(("name", "value"), [("beta_nll", 1.5), ("latent_weight", -1.0)])
def test_training_term_weights_out_of_range_are_refused(periodic_df, name, value):
    with pytest.raises(ValueError, match=name):
        LatentODEForecaster(**{name: value}, max_epochs=1).fit(periodic_df)
