"""The FFJORD posterior: change of variables, reduction to the Gaussian, forecaster round trips."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

import latentode
from latentode.datasets import make_spirals
from latentode.estimators.forecaster import LatentODEForecaster
from latentode.exceptions import ParameterError
from latentode.nn.ffjord_posterior import FFJORDPosterior
from latentode.nn.posterior import GaussianPosterior, standard_normal_log_prob
from latentode.nn.solve import SolverConfig

TIGHT = SolverConfig(rtol=1e-9, atol=1e-10)


def _randomise(module: torch.nn.Module, seed: int = 0, scale: float = 0.4) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)


def test_untrained_flow_reduces_to_the_gaussian_posterior():
    post = FFJORDPosterior(5, 3)  # the flow starts as the identity
    gauss = GaussianPosterior(5, 3)
    gauss.load_state_dict({k[5:]: v for k, v in post.state_dict().items() if k[:5] == "base."})
    h = torch.randn(4, 5)
    eps = torch.randn(2000, 1, 3)
    a, b = post(h, 2000, eps=eps), gauss(h, 2000, eps=eps)
    torch.testing.assert_close(a.z0, b.z0)
    torch.testing.assert_close(a.log_q, b.log_q, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(a.kl, a.log_q - standard_normal_log_prob(a.z0))
    # The Monte-Carlo KL is unbiased for the analytic one.
    stderr = a.kl.std(0) / math.sqrt(2000)
    assert ((a.kl.mean(0) - b.kl[0]).abs() < 4 * stderr).all()
    torch.testing.assert_close(post.mean(h), gauss.mean(h))


def test_log_q_is_the_change_of_variables_of_the_whole_sampling_map():
    post = FFJORDPosterior(4, 2, flow_hidden_dims=(8,), n_blocks=2, solver=TIGHT).double()
    _randomise(post)
    h = torch.randn(3, 4, dtype=torch.float64)
    for i in range(3):
        eps = torch.randn(1, 1, 2, dtype=torch.float64)

        def sample(e: torch.Tensor, i: int = i) -> torch.Tensor:
            return post(h[i : i + 1], 1, eps=e.view(1, 1, 2)).z0.view(2)

        jac = torch.autograd.functional.jacobian(sample, eps.view(2))
        expected = standard_normal_log_prob(eps.view(2)) - torch.linalg.slogdet(jac)[1]
        got = post(h[i : i + 1], 1, eps=eps).log_q.view(())
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)


def test_shared_base_noise_makes_samples_independent_of_batch_mates():
    solver = SolverConfig(method="rk4", n_substeps=4)
    post = FFJORDPosterior(4, 3, flow_hidden_dims=(8,), solver=solver)
    _randomise(post, scale=0.3)
    post.eval()
    h = torch.randn(5, 4)
    eps = torch.randn(6, 1, 3)
    together = post(h, 6, eps=eps)
    for i in (0, 3):
        alone = post(h[i : i + 1], 6, eps=eps)
        torch.testing.assert_close(alone.z0[:, 0], together.z0[:, i])
        torch.testing.assert_close(alone.log_q[:, 0], together.log_q[:, i])


def test_evaluation_mode_uses_the_exact_trace():
    post = FFJORDPosterior(4, 3, flow_hidden_dims=(8,), divergence="hutchinson")
    _randomise(post, scale=0.3)
    h, eps = torch.randn(2, 4), torch.randn(8, 1, 3)
    post.train()
    noisy = post(h, 8, eps=eps, generator=torch.Generator().manual_seed(0)).log_q
    post.eval()
    exact = post(h, 8, eps=eps).log_q
    post.flow.set_divergence("exact")
    torch.testing.assert_close(exact, post(h, 8, eps=eps).log_q)
    assert not torch.allclose(noisy, exact, atol=1e-4)


@pytest.fixture(scope="module")
def spirals():
    return make_spirals(24, 12, noise=0.05, random_state=0)


@pytest.mark.parametrize("posterior", ["gaussian", "ffjord"])
def test_forecaster_fits_saves_and_loads_with_either_posterior(posterior, spirals, tmp_path):
    torch.set_num_threads(1)
    est = LatentODEForecaster(
        latent_dim=3,
        encoder="gru",
        encoder_hidden_dim=8,
        field_hidden_dim=16,
        posterior=posterior,
        flow_hidden_dims=(8,),
        flow_divergence="hutchinson",
        max_epochs=2,
        n_samples=4,
        n_iwae_samples=4,
        random_state=0,
    ).fit(spirals)
    module_type = FFJORDPosterior if posterior == "ffjord" else GaussianPosterior
    assert isinstance(est.module_.posterior, module_type)
    # The flow's evaluations are reported beside the decoder's (a GRU encoder has none).
    assert ("nfe_flow" in est.history_[-1]) == (posterior == "ffjord")
    assert est.history_[-1].get("nfe_flow", 1.0) > 0 and "nfe_encoder" not in est.history_[-1]
    scores = est.score_samples(spirals)
    assert scores.shape == (24,) and np.isfinite(scores).all()
    forecast = est.predict(spirals, horizon=1.0, n_points=3)
    loaded = latentode.load(est.save(tmp_path / "model"))
    assert loaded.posterior == posterior
    np.testing.assert_allclose(loaded.score_samples(spirals), scores, rtol=1e-6)
    np.testing.assert_allclose(
        loaded.predict(spirals, horizon=1.0, n_points=3)[["x", "y"]].to_numpy(),
        forecast[["x", "y"]].to_numpy(),
        rtol=1e-6,
    )
    draws = est.sample(spirals, horizon=1.0, n_points=2, n_samples=3)
    assert len(draws) == 24 * 2 * 3
    assert est.transform(spirals).shape == (24, 3)
    unpickled = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(unpickled.score_samples(spirals), scores, rtol=1e-6)


def test_flow_parameters_are_validated_in_fit(spirals):
    with pytest.raises(ParameterError) as info:
        LatentODEForecaster(posterior="ffjord", flow_hidden_dims=(8, 0)).fit(spirals)
    assert str(info.value) == (
        "The 'flow_hidden_dims' parameter of LatentODEForecaster must be a non-empty tuple "
        "of ints >= 1. Got (8, 0) instead."
    )
    with pytest.raises(ParameterError, match="'flow_divergence' parameter"):
        LatentODEForecaster(posterior="ffjord", flow_divergence="auto").fit(spirals)


def test_flow_regularisers_enter_the_loss_and_are_validated(spirals):
    torch.set_num_threads(1)
    params = dict(
        latent_dim=2,
        encoder="gru",
        encoder_hidden_dim=8,
        field_hidden_dim=8,
        posterior="ffjord",
        flow_hidden_dims=(8,),
        max_epochs=2,
        random_state=0,
    )
    plain = LatentODEForecaster(**params).fit(spirals)
    regular = LatentODEForecaster(**params, flow_kinetic_weight=1e4, flow_jacobian_weight=1e4)
    regular.fit(spirals)
    assert "flow_penalty" not in plain.history_[-1]
    # The flow starts as the identity (zero field): no penalty and no penalty gradient in
    # the first step, so both fits reach the second epoch with the same weights and its
    # losses differ by the penalty alone.
    second = regular.history_[1]
    assert second["flow_penalty"] > 0.01  # large weights: well above the loss's rounding
    difference = second["train_loss"] - plain.history_[1]["train_loss"]
    assert difference == pytest.approx(second["flow_penalty"], rel=0.01)
    with pytest.raises(ParameterError, match="'flow_kinetic_weight'"):
        LatentODEForecaster(posterior="ffjord", flow_kinetic_weight=-1.0).fit(spirals)
