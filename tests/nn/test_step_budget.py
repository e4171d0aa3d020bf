"""Every fixed-step solver path refuses more than ``max_num_steps`` steps before it allocates.

Before the budget, a query at t = 1e6 on data spanning [0, 5] ran for minutes and took
gigabytes (``solve_on_step_grid`` allocated one state per step).
"""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from latentode.exceptions import MaxStepsExceededError, ParameterError
from latentode.nn.solve import SolverConfig, solve_intervals, solve_on_grids


class Decay(nn.Module):
    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return -z


CONFIGS = {
    "euler-step-grid": SolverConfig(method="euler", step_size=0.1, max_num_steps=1000),
    "rk4-step-grid": SolverConfig(method="rk4", step_size=0.1, max_num_steps=1000),
    "euler-adjoint": SolverConfig(method="euler", step_size=0.1, adjoint=True, max_num_steps=1000),
    "midpoint-adjoint": SolverConfig(
        method="midpoint", step_size=0.1, adjoint=True, max_num_steps=1000
    ),
}


def grid(far: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    z0 = torch.ones(3, 2)
    t0 = torch.zeros(3, dtype=torch.float64)
    times = torch.tensor([[1.0, 2.0], [1.0, far], [0.5, 1.5]], dtype=torch.float64)
    return z0, t0, times


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_far_query_is_refused_at_once_naming_the_row(name):
    z0, t0, times = grid(1e6)
    start = time.perf_counter()
    with pytest.raises(MaxStepsExceededError, match="max_num_steps=1000") as info:
        solve_on_grids(Decay(), z0, t0, times, CONFIGS[name])
    assert time.perf_counter() - start < 1.0
    assert info.value.row == 1


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_within_budget_still_solves(name):
    z0, t0, times = grid(50.0)  # 500 steps of 0.1: inside the budget of 1000
    out = solve_on_grids(Decay(), z0, t0, times, CONFIGS[name])
    expected = torch.exp(-times).unsqueeze(-1).expand(3, 2, 2).float()
    assert torch.isfinite(out).all()
    assert torch.allclose(out[0], expected[0], atol=0.1)


def test_non_finite_time_is_refused():
    z0, t0, times = grid(float("nan"))
    with pytest.raises(MaxStepsExceededError, match="non-finite"):
        solve_on_grids(Decay(), z0, t0, times, CONFIGS["euler-step-grid"])


def test_intervals_are_bounded_too():
    config = SolverConfig(method="euler", step_size=1e-3, max_num_steps=100)
    z = torch.ones(2, 2)
    start = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(MaxStepsExceededError) as info:
        solve_intervals(Decay(), z, start, torch.tensor([0.01, 5.0]), config)
    assert info.value.row == 1
    out = solve_intervals(Decay(), z, start, torch.tensor([0.01, 0.05]), config)
    assert torch.allclose(out, torch.exp(-torch.tensor([0.01, 0.05])).unsqueeze(1), atol=1e-3)


@pytest.mark.parametrize("method", ["explicit_adams", "implicit_adams"])
def test_adams_methods_are_refused_with_the_reason(method):
    # They returned exp(-1) = -1.0 on per-series grids (multistep history over unequal steps).
    with pytest.raises(ParameterError, match="Adams multistep"):
        SolverConfig(method=method, step_size=0.1)
