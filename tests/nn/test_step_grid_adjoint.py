"""The fixed-step adjoint on each series' step grid: the direct solve's trajectory and
evaluations (not a step per query), and its gradients."""

from __future__ import annotations

import pytest
import torch

from latentode.nn.solve import NFECounter, SolverConfig, solve_on_grids
from latentode.nn.vector_field import MLPVectorField


def _solve(method: str, adjoint: bool, step_size: float = 0.1):
    torch.manual_seed(0)
    field = MLPVectorField(4, 16, 1)
    g = torch.Generator().manual_seed(0)
    t0 = torch.rand(5, dtype=torch.float64, generator=g)
    # many queries, some before the start time (the grid's backward side)
    times = torch.sort(torch.rand(5, 300, dtype=torch.float64, generator=g) * 6 - 0.5, 1).values
    z0 = torch.randn(2, 5, 4, generator=g, requires_grad=True)
    counter = NFECounter()
    config = SolverConfig(method=method, step_size=step_size, adjoint=adjoint)
    z = solve_on_grids(field, z0, t0, times, config, counter)
    z.square().mean().backward()
    grads = [p.grad for p in field.parameters()] + [z0.grad]
    return z.detach(), grads, counter


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-12))


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_the_adjoint_keeps_the_direct_trajectory_and_its_evaluations(method):
    z_direct, _, direct = _solve(method, adjoint=False)
    z_adjoint, grads, adjoint = _solve(method, adjoint=True)
    torch.testing.assert_close(z_adjoint, z_direct, rtol=1e-5, atol=1e-5)
    assert adjoint.forward == direct.forward  # the grid's steps, not one per query
    assert 0 < adjoint.backward <= adjoint.forward
    assert all(torch.isfinite(g).all() for g in grads)


def test_a_higher_order_adjoint_matches_back_propagation():
    _, direct, _ = _solve("rk4", adjoint=False)
    _, adjoint, _ = _solve("rk4", adjoint=True)
    for a, b in zip(adjoint, direct):
        assert _relative(a, b) < 1e-4


def test_the_euler_adjoint_gradient_converges_with_the_step():
    # The continuous adjoint solved by Euler is the discrete gradient up to O(step).
    errors = []
    for step in (0.1, 0.025):
        _, direct, _ = _solve("euler", adjoint=False, step_size=step)
        _, adjoint, _ = _solve("euler", adjoint=True, step_size=step)
        errors.append(max(_relative(a, b) for a, b in zip(adjoint, direct)))
    assert errors[0] < 0.1
    assert errors[1] < 0.5 * errors[0]
