"""Fixed-step decoder solves evaluate only the series that still have steps to take.

Before, every row of a batch was stepped as many times as its longest series needed: one
series spanning 100× the others made a batch cost 100× the steps for every row (issue 13).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from latentode.nn._fixed_steps import fixed_steps, fixed_trajectory, sorted_trajectory, states_at
from latentode.nn.solve import NFECounter, SolverConfig, solve_on_grids


class RowCounting(nn.Module):
    """A small nonlinear, time-dependent field that counts the rows it is evaluated on."""

    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(dim + 1, 16), nn.Tanh(), nn.Linear(16, dim))
        self.rows = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.rows += z.shape[-2]
        tt = t.to(z.dtype).expand(z.shape[:-1]).unsqueeze(-1)
        return self.net(torch.cat([z, tt], dim=-1))


def spans(n_short: int = 49, short: float = 1.0, long: float = 100.0) -> torch.Tensor:
    """Query grids ``(B, 4)``: ``n_short`` series over ``[0, short]`` and one over ``[0, long]``."""
    rows = [torch.linspace(0.0, short, 4) * (1 + 0.1 * k) for k in range(n_short)]
    rows.insert(n_short // 2, torch.linspace(0.0, long, 4))
    return torch.stack(rows).to(torch.float64)


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
@pytest.mark.parametrize("step_size", [0.05, None])
def test_a_long_series_costs_its_own_steps_and_results_match_each_series_alone(
    method: str, step_size: float | None
) -> None:
    config = SolverConfig(method=method, step_size=step_size, n_substeps=25, max_num_steps=100_000)
    times = spans()
    n = times.shape[0]
    z0 = torch.randn(2, n, 3, generator=torch.Generator().manual_seed(1))  # 2 samples
    t0 = torch.zeros(n, dtype=torch.float64)
    field = RowCounting()
    together = solve_on_grids(field, z0, t0, times, config, NFECounter())
    rows_together = field.rows
    alone, own_rows = [], 0
    for i in range(n):
        field.rows = 0
        alone.append(
            solve_on_grids(field, z0[:, i : i + 1], t0[i : i + 1], times[i : i + 1], config)
        )
        own_rows += field.rows
    torch.testing.assert_close(together, torch.cat(alone, dim=1), rtol=1e-5, atol=1e-6)
    # every row stepped as often as the long series would cost about 18x the series' own
    # evaluations here; dropping finished rows keeps it within 1 / (1 - 0.25) of them
    assert rows_together <= 1.5 * own_rows, (rows_together, own_rows)


def _step_pattern(
    gen: torch.Generator, min_rows: int, min_steps: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Random step grids: each of 1-11 rows takes a random number of its steps of 0.1 (the
    rest of size 0); returns ``start``, ``size`` ``(rows, steps)`` and the rows."""
    n_rows = int(torch.randint(min_rows, 12, (1,), generator=gen))
    n_steps = int(torch.randint(min_steps, 30, (1,), generator=gen))
    own = torch.randint(0, n_steps + 1, (n_rows,), generator=gen)
    j = torch.arange(n_steps)
    size = torch.where(j < own.unsqueeze(1), 0.1, 0.0).to(torch.float64)
    start = (j * 0.1).to(torch.float64).expand(n_rows, n_steps).clone()
    return start, size, n_rows


def test_fixed_trajectory_equals_fixed_steps_on_random_step_patterns() -> None:
    gen = torch.Generator().manual_seed(0)
    for trial in range(20):
        start, size, n_rows = _step_pattern(gen, min_rows=1, min_steps=0)
        z0 = torch.randn(n_rows, 3, generator=gen)
        field = RowCounting()
        for method in ("euler", "rk4"):
            expected = torch.stack(fixed_steps(field, z0, start, size, method, NFECounter()), -2)
            got = fixed_trajectory(field, z0, start, size, method, NFECounter())
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6, msg=f"trial {trial}")


@pytest.mark.parametrize("lead", [(), (2,)])
def test_the_no_grad_trajectory_is_the_one_with_gradients(lead) -> None:
    # Without gradients the states are written into one tensor (no segments to join); the
    # values, the row order and the rows' positions are the same.
    gen = torch.Generator().manual_seed(1)
    for trial in range(10):
        start, size, n_rows = _step_pattern(gen, min_rows=2, min_steps=1)
        z0 = torch.randn(*lead, n_rows, 3, generator=gen)
        field = RowCounting()
        for method in ("euler", "rk4"):
            with_grad = sorted_trajectory(field, z0, start, size, method, NFECounter())
            with torch.no_grad():
                without = sorted_trajectory(field, z0, start, size, method, NFECounter())
                full = fixed_trajectory(field, z0, start, size, method, NFECounter())
            torch.testing.assert_close(without[0], with_grad[0], rtol=0, atol=0)
            assert (without[1] is None) == (with_grad[1] is None), trial
            if without[1] is not None:
                assert torch.equal(without[1], with_grad[1])
                torch.testing.assert_close(
                    full, without[0].index_select(-3, without[1]), rtol=0, atol=0
                )


def test_states_at_reads_the_rows_of_a_sorted_trajectory() -> None:
    g = torch.Generator().manual_seed(0)
    zs = torch.randn(3, 5, 7, 4, generator=g)
    index = torch.randint(0, 7, (5, 9), generator=g)
    rows = torch.randperm(5, generator=g)
    in_order = torch.empty_like(zs)
    in_order[:, torch.arange(5)] = zs[:, rows]
    torch.testing.assert_close(
        states_at(zs, index, rows), states_at(in_order, index), rtol=0, atol=0
    )


def test_gradients_flow_through_the_dropped_rows() -> None:
    times = spans(n_short=7)
    z0 = torch.randn(8, 3, generator=torch.Generator().manual_seed(2), requires_grad=True)
    t0 = torch.zeros(8, dtype=torch.float64)
    config = SolverConfig(method="rk4", step_size=0.1, max_num_steps=100_000)
    field = RowCounting()
    out = solve_on_grids(field, z0, t0, times, config)
    (grad,) = torch.autograd.grad(out.pow(2).sum(), z0)
    expected = []
    for i in range(8):
        zi = z0[i : i + 1].detach().requires_grad_(True)
        oi = solve_on_grids(field, zi, t0[i : i + 1], times[i : i + 1], config)
        expected.append(torch.autograd.grad(oi.pow(2).sum(), zi)[0])
    torch.testing.assert_close(grad, torch.cat(expected), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("lead", [(), (3,), (2, 3)])
def test_states_at_picks_each_series_own_steps_as_a_gather_would(lead) -> None:
    g = torch.Generator().manual_seed(0)
    zs = torch.randn(*lead, 5, 7, 4, generator=g)
    index = torch.randint(0, 7, (5, 9), generator=g)
    expanded = index.view(*([1] * len(lead)), 5, 9, 1).expand(*lead, 5, 9, 4)
    torch.testing.assert_close(states_at(zs, index), torch.gather(zs, -2, expanded), rtol=0, atol=0)


@pytest.mark.parametrize("lead", [(), (3,), (2, 3)])
def test_states_at_reads_a_trajectory_stored_step_by_step(lead) -> None:
    # sorted_trajectory without gradients stores (..., N, B, L) and returns it transposed
    g = torch.Generator().manual_seed(0)
    by_step = torch.randn(*lead, 7, 5, 4, generator=g)
    zs = by_step.transpose(-2, -3)
    assert not zs.is_contiguous()
    index = torch.randint(0, 7, (5, 9), generator=g)
    rows = torch.randperm(5, generator=g)
    copied = zs.contiguous()
    torch.testing.assert_close(states_at(zs, index), states_at(copied, index), rtol=0, atol=0)
    torch.testing.assert_close(
        states_at(zs, index, rows), states_at(copied, index, rows), rtol=0, atol=0
    )
