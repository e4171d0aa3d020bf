"""Continuous normalising flows: log-determinants against brute force, traces, inverses."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from latentode.exceptions import ParameterError
from latentode.nn.cnf import CNF, CNFBlock, ConcatSquashField
from latentode.nn.solve import SolverConfig

TIGHT = SolverConfig(rtol=1e-8, atol=1e-9)


def _random_cnf(dim: int, context_dim: int = 0, n_blocks: int = 2, **kwargs) -> CNF:
    """A float64 CNF with non-trivial random weights (the default init is the identity)."""
    cnf = CNF.build(
        dim,
        hidden_dims=(16, 16),
        n_blocks=n_blocks,
        context_dim=context_dim,
        solver=kwargs.pop("solver", TIGHT),
        **kwargs,
    ).double()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in cnf.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.4)
    return cnf


@pytest.mark.parametrize(("dim", "context_dim"), [(2, 0), (3, 2)])
@pytest.mark.parametrize("reverse", [False, True])
def test_log_determinant_matches_brute_force_jacobian(dim, context_dim, reverse):
    cnf = _random_cnf(dim, context_dim)
    g = torch.Generator().manual_seed(2)
    ctx = torch.randn(1, context_dim, generator=g, dtype=torch.float64) if context_dim else None
    sizes = []
    for _ in range(2):
        x = torch.randn(dim, generator=g, dtype=torch.float64)

        def flow(v: torch.Tensor) -> torch.Tensor:
            return cnf(v.view(1, dim), ctx, reverse=reverse).z.view(dim)

        jac = torch.autograd.functional.jacobian(flow, x)
        sign, logabsdet = torch.linalg.slogdet(jac)
        out = cnf(x.view(1, dim), ctx, reverse=reverse)
        assert sign.item() > 0  # a flow map preserves orientation
        sizes.append(abs(logabsdet.item()))
        torch.testing.assert_close(-out.delta_logp, logabsdet.view(1), atol=1e-6, rtol=1e-6)
    assert max(sizes) > 0.03  # the check is not trivially 0 = 0


@pytest.mark.parametrize("dim", [2, 3])
def test_inverse_round_trips_points_and_log_densities(dim):
    cnf = _random_cnf(dim)
    x = torch.randn(5, dim, dtype=torch.float64)
    forward = cnf(x)
    back = cnf(forward.z, reverse=True)
    assert (forward.z - x).abs().max() > 0.1
    torch.testing.assert_close(back.z, x, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(back.delta_logp, -forward.delta_logp, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("noise", ["rademacher", "gaussian"])
def test_hutchinson_trace_is_unbiased_for_the_exact_trace(noise):
    cnf = _random_cnf(3, n_blocks=1, solver=SolverConfig(rtol=1e-6, atol=1e-6))
    x = torch.randn(1, 3, dtype=torch.float64)
    exact = cnf(x).delta_logp.item()
    cnf.set_divergence("hutchinson")
    for block in cnf.blocks:
        block.noise = noise
    n = 8000
    est = cnf(x.expand(n, 3), generator=torch.Generator().manual_seed(3)).delta_logp
    stderr = est.std().item() / math.sqrt(n)
    assert est.std().item() > 1e-3  # the estimator is genuinely noisy...
    assert abs(est.mean().item() - exact) < 4 * stderr  # ...and right on average
    # The probe is drawn once per solve: the same generator state gives the same estimate.
    again = cnf(x.expand(n, 3), generator=torch.Generator().manual_seed(3)).delta_logp
    torch.testing.assert_close(again, est)


def test_regularisers_match_a_field_with_known_integrals():
    """``f(t, z) = s·t`` (no z-dependence): z(1) = z(0) + s/2, ∫|f|² = |s|²/3, J = 0."""
    field = ConcatSquashField(2, (4,), zero_init=True).double()
    s = torch.tensor([0.6, -1.2], dtype=torch.float64)
    with torch.no_grad():
        field.layers[-1].shift.weight[:, 0] = s
    block = CNFBlock(field, solver=TIGHT, regularize=True)
    z = torch.randn(4, 2, dtype=torch.float64)
    forward = block(z)
    backward = block(z + s / 2, reverse=True)
    torch.testing.assert_close(forward.z, z + s / 2)
    torch.testing.assert_close(backward.z, z)
    for out in (forward, backward):  # penalties are positive in both directions
        kinetic = torch.full((4,), s.pow(2).sum().item() / 3, dtype=torch.float64)
        torch.testing.assert_close(out.kinetic, kinetic)
        torch.testing.assert_close(out.frobenius, torch.zeros(4, dtype=torch.float64))
        torch.testing.assert_close(out.delta_logp, torch.zeros(4, dtype=torch.float64))


def test_exact_frobenius_penalty_is_the_mean_of_its_hutchinson_estimate():
    cnf = _random_cnf(2, n_blocks=1, regularize=True, solver=SolverConfig(rtol=1e-6, atol=1e-6))
    x = torch.randn(1, 2, dtype=torch.float64)
    exact = cnf(x).frobenius.item()
    assert exact > 0
    cnf.set_divergence("hutchinson")
    n = 8000
    est = cnf(x.expand(n, 2), generator=torch.Generator().manual_seed(4)).frobenius
    assert abs(est.mean().item() - exact) < 4 * est.std().item() / math.sqrt(n)


def test_adjoint_gradients_match_direct_backprop_including_the_context():
    grads = {}
    for adjoint in (False, True):
        cnf = _random_cnf(
            2, context_dim=3, n_blocks=1, solver=SolverConfig(rtol=1e-8, atol=1e-8, adjoint=adjoint)
        )
        x = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
        ctx = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
        ctx.requires_grad_(True)
        out = cnf(x, ctx, reverse=True)
        loss = (out.z.pow(2).sum(-1) + out.delta_logp).sum()
        loss.backward()
        grads[adjoint] = (ctx.grad.clone(), [p.grad.clone() for p in cnf.parameters()])
        if adjoint:
            assert cnf.counter.backward > 0
    assert grads[False][0].abs().max() > 1e-3
    torch.testing.assert_close(grads[True][0], grads[False][0], atol=1e-5, rtol=1e-5)
    for a, b in zip(grads[True][1], grads[False][1]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_stack_equals_blocks_applied_in_turn_and_counts_evaluations():
    cnf = _random_cnf(2, n_blocks=2)
    x = torch.randn(3, 2, dtype=torch.float64)
    first = cnf.blocks[0](x)
    second = cnf.blocks[1](first.z)
    cnf.counter.reset()
    out = cnf(x)
    torch.testing.assert_close(out.z, second.z)
    torch.testing.assert_close(out.delta_logp, first.delta_logp + second.delta_logp)
    assert cnf.counter.forward > 10 and cnf.counter.backward == 0


def test_default_initialisation_is_the_identity_flow():
    cnf = CNF.build(3)
    x = torch.randn(4, 3)
    out = cnf(x)
    torch.testing.assert_close(out.z, x)
    torch.testing.assert_close(out.delta_logp, torch.zeros(4))


def test_bad_inputs_raise_typed_errors_that_say_how_to_fix():
    cnf = CNF.build(2, context_dim=3)
    with pytest.raises(ParameterError, match=r"last dimension 2; got shape \(4, 3\)"):
        cnf(torch.zeros(4, 3), torch.zeros(4, 3))
    with pytest.raises(
        ParameterError, match=r"expected a context of shape \(\.\.\., n, 3\); got None"
    ):
        cnf(torch.zeros(4, 2))
    with pytest.raises(ParameterError, match="'divergence' of CNFBlock must be a str among"):
        CNF.build(2, divergence="trace")
    with pytest.raises(ParameterError, match="'activation' of ConcatSquashField"):
        ConcatSquashField(2, activation="relu")
    with pytest.raises(ParameterError, match="at least one CNFBlock"):
        CNF([])
    with pytest.raises(ParameterError, match="share dim and context_dim"):
        CNF([CNFBlock(ConcatSquashField(2)), CNFBlock(ConcatSquashField(3))])


def test_field_jacobian_vector_products_match_autograd():
    field = ConcatSquashField(3, (8, 8), context_dim=2, activation="softplus").double()
    for p in field.parameters():
        nn.init.normal_(p, std=0.5)
    t = torch.tensor([0.3, 0.7], dtype=torch.float64)
    z = torch.randn(2, 3, dtype=torch.float64)
    c = torch.randn(2, 2, dtype=torch.float64)
    f, jac = field.forward_jvp(t, z, c, None)
    torch.testing.assert_close(f, field(t, z, c))
    for i in range(2):
        full = torch.autograd.functional.jacobian(
            lambda v, i=i: field(t[i : i + 1], v.view(1, 3), c[i : i + 1]).view(3), z[i]
        )
        torch.testing.assert_close(jac[i].T, full)  # row k of jvp is column k of J
    v = torch.randn(2, 1, 3, dtype=torch.float64)
    _, jv = field.forward_jvp(t, z, c, v)
    torch.testing.assert_close(jv[:, 0], torch.einsum("nkd,nk->nd", jac, v[:, 0]))
