"""The solve layer: exact solutions, per-series grids, adjoint gradients, typed errors."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch
from torch import nn

from latentode.exceptions import MaxStepsExceededError, ParameterError
from latentode.nn.solve import NFECounter, SolverConfig, solve_intervals, solve_on_grids

TIGHT = SolverConfig(rtol=1e-8, atol=1e-10)


class Linear(nn.Module):
    """dz/dt = A z (time-independent) — exact solution expm(A t) z0."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return z @ self.a.T


class TimeField(nn.Module):
    """dz/dt = cos(t) per series — exact solution z0 + sin(t) - sin(t0)."""

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.cos(t).to(z.dtype).unsqueeze(-1).expand_as(z)


def _spiral() -> torch.Tensor:
    return torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=torch.float64)


def _grids(n_series: int = 5, n_times: int = 7, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    t0 = torch.rand(n_series, generator=g, dtype=torch.float64) * 2 - 1
    times = (
        t0[:, None]
        + torch.sort(
            torch.rand(n_series, n_times, generator=g, dtype=torch.float64) * 3, dim=1
        ).values
    )
    return t0, times


def _exact_linear(a: torch.Tensor, z0: torch.Tensor, t0, times) -> torch.Tensor:
    dt = times - t0[:, None]  # (B, Q)
    expm = torch.linalg.matrix_exp(a * dt[..., None, None])  # (B, Q, L, L)
    return torch.einsum("bqij,...bj->...bqi", expm, z0)


@pytest.mark.parametrize("config", [TIGHT, SolverConfig(method="rk4", n_substeps=50)])
def test_linear_ode_matches_matrix_exponential_on_per_series_grids(config):
    field = Linear(_spiral())
    t0, times = _grids()
    z0 = torch.randn(3, 5, 2, dtype=torch.float64)
    z = solve_on_grids(field, z0, t0, times, config)
    assert z.shape == (3, 5, 7, 2)
    torch.testing.assert_close(
        z, _exact_linear(field.a.detach(), z0, t0, times), atol=1e-5, rtol=1e-5
    )


def test_time_dependent_field_sees_each_series_own_time():
    t0, times = _grids(4, 6)
    z0 = torch.zeros(4, 1, dtype=torch.float64)
    z = solve_on_grids(TimeField(), z0, t0, times, TIGHT)
    exact = (torch.sin(times) - torch.sin(t0)[:, None]).unsqueeze(-1)
    torch.testing.assert_close(z, exact, atol=1e-5, rtol=1e-5)


def test_queries_before_start_and_padding():
    field = Linear(_spiral())
    t0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    # series 0 asks for a time before its start; series 1 is padded (repeats its last time)
    times = torch.tensor([[0.5, 1.5, 2.0], [0.7, 0.7, 0.7]], dtype=torch.float64)
    z0 = torch.randn(2, 2, dtype=torch.float64)
    z = solve_on_grids(field, z0, t0, times, TIGHT)
    torch.testing.assert_close(
        z, _exact_linear(field.a.detach(), z0, t0, times), atol=1e-6, rtol=1e-6
    )


def test_series_solved_alone_equals_series_in_batch_with_different_grids():
    field = Linear(_spiral().float())
    t0, times = _grids(8, 12, seed=1)
    # make the grids very different: one dense series, one with huge gaps
    times[3] = t0[3] + torch.linspace(0.01, 0.2, 12, dtype=torch.float64)
    times[5] = t0[5] + torch.linspace(1.0, 30.0, 12, dtype=torch.float64)
    z0 = torch.randn(8, 2)
    config = SolverConfig(rtol=1e-6, atol=1e-8)
    batch = solve_on_grids(field, z0, t0, times, config)
    for i in (0, 3, 5):
        alone = solve_on_grids(field, z0[i : i + 1], t0[i : i + 1], times[i : i + 1], config)
        torch.testing.assert_close(batch[i], alone[0], atol=5e-4, rtol=5e-4)


def test_cost_grows_with_longest_series_not_with_union_of_times():
    """8 → 128 series with all-different grids: the union of times grows 16×, NFE does not."""
    field = Linear(_spiral().float())
    g = torch.Generator().manual_seed(0)
    counts = []
    for n_series in (8, 128):
        times = torch.sort(torch.rand(n_series, 10, generator=g, dtype=torch.float64) * 5, 1).values
        counter = NFECounter()
        solve_on_grids(
            field,
            torch.randn(n_series, 2),
            torch.zeros(n_series, dtype=torch.float64),
            times,
            SolverConfig(),
            counter,
        )
        counts.append(counter.forward)
    assert counts[1] <= 1.5 * counts[0], counts


@pytest.mark.parametrize("method", ["dopri5", "rk4"])
def test_adjoint_gradients_equal_direct_backprop(method):
    t0, times = _grids(4, 5)
    z0 = torch.randn(4, 2, dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        field = Linear(_spiral())
        config = SolverConfig(method=method, rtol=1e-9, atol=1e-11, adjoint=adjoint, n_substeps=20)
        z0_ = z0.clone().requires_grad_(True)
        loss = solve_on_grids(field, z0_, t0, times, config).pow(2).sum()
        loss.backward()
        grads.append((field.a.grad.clone(), z0_.grad.clone()))
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-5, rtol=1e-5)


def test_gradcheck_float64():
    t0, times = _grids(2, 3)
    config = SolverConfig(method="rk4", n_substeps=4)

    class Functional(nn.Module):
        def __init__(self, a):
            super().__init__()
            self.a = a  # a plain tensor, so gradcheck sees the graph

        def forward(self, t, z):
            return z @ self.a.T

    def fn(a, z0):
        return solve_on_grids(Functional(a), z0, t0, times, config)

    a = _spiral().clone().requires_grad_(True)
    z0 = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (a, z0))


def test_nfe_counter_splits_forward_and_adjoint_backward():
    field = Linear(_spiral())
    t0, times = _grids(3, 4)
    counter = NFECounter()
    z0 = torch.randn(3, 2, dtype=torch.float64)
    out = solve_on_grids(field, z0, t0, times, SolverConfig(adjoint=True), counter)
    assert counter.forward > 0 and counter.backward == 0
    out.sum().backward()
    assert counter.backward > 0


def test_solve_intervals_negative_and_zero_steps():
    field = Linear(_spiral())
    z = torch.randn(3, 2, dtype=torch.float64)
    start = torch.zeros(3, dtype=torch.float64)
    delta = torch.tensor([0.5, -0.3, 0.0], dtype=torch.float64)
    out = solve_intervals(field, z, start, delta, TIGHT)
    exact = torch.einsum(
        "bij,bj->bi", torch.linalg.matrix_exp(field.a.detach() * delta[:, None, None]), z
    )
    torch.testing.assert_close(out, exact, atol=1e-6, rtol=1e-6)


def test_max_num_steps_raises_typed_error():
    class Stiff(nn.Module):
        def forward(self, t, z):
            return -1e6 * z

    with pytest.raises(MaxStepsExceededError, match="max_num_steps"):
        solve_on_grids(
            Stiff(),
            torch.ones(1, 1),
            torch.zeros(1, dtype=torch.float64),
            torch.tensor([[10.0]], dtype=torch.float64),
            SolverConfig(rtol=1e-9, atol=1e-12, max_num_steps=20),
        )


def test_solver_config_rejects_bad_values():
    with pytest.raises(ParameterError, match="'method' of SolverConfig must be one of"):
        SolverConfig(method="rk45")
    with pytest.raises(
        ParameterError,
        match=r"'rtol' of SolverConfig must be a float in the range \(0, inf\). Got -1",
    ):
        SolverConfig(rtol=-1)
    with pytest.raises(ParameterError, match="'n_substeps'"):
        SolverConfig(n_substeps=0)


def test_fixed_step_size_bounds_the_step_over_long_gaps():
    """A far query after dense ones: one rk4 step per gap is wrong, step_size fixes it."""
    field = Linear(_spiral())
    t0 = torch.zeros(2, dtype=torch.float64)
    times = torch.tensor([[0.1, 0.2, 6.0], [0.1, 0.2, 0.3]], dtype=torch.float64)
    z0 = torch.randn(2, 2, dtype=torch.float64)
    exact = _exact_linear(field.a.detach(), z0, t0, times)
    coarse = solve_on_grids(field, z0, t0, times, SolverConfig(method="rk4"))
    fine = solve_on_grids(field, z0, t0, times, SolverConfig(method="rk4", step_size=0.05))
    assert (coarse - exact).abs().max() > 0.1
    torch.testing.assert_close(fine, exact, atol=1e-4, rtol=1e-4)
    with pytest.raises(ParameterError, match="step_size"):
        SolverConfig(method="rk4", step_size=0.0)


def test_fixed_step_results_do_not_depend_on_batch_mates():
    """Each series takes its own number of steps per gap, so batching changes nothing."""
    field = Linear(_spiral())
    t0, times = _grids(6, 8, seed=2)
    times[2] = t0[2] + torch.linspace(0.5, 40.0, 8, dtype=torch.float64)  # huge gaps
    z0 = torch.randn(6, 2, dtype=torch.float64)
    for method in ("euler", "rk4"):
        config = SolverConfig(method=method, step_size=0.1)
        batch = solve_on_grids(field, z0, t0, times, config)
        for i in (0, 5):
            alone = solve_on_grids(field, z0[i : i + 1], t0[i : i + 1], times[i : i + 1], config)
            torch.testing.assert_close(batch[i], alone[0], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_direct_fixed_steps_equal_torchdiffeq_on_the_same_grid(method):
    """The batched fixed-step path takes exactly torchdiffeq's steps on each series' grid."""
    import torchdiffeq

    field = Linear(_spiral())
    t0, times = _grids(3, 4, seed=5)
    z0 = torch.randn(3, 2, dtype=torch.float64)
    config = SolverConfig(method=method, n_substeps=3)
    batch = solve_on_grids(field, z0, t0, times, config)
    for i in range(3):
        knots = torch.cat([t0[i : i + 1], times[i]])
        pieces = [torch.linspace(a, b, 4, dtype=torch.float64)[:-1] for a, b in pairwise(knots)]
        grid = torch.cat([*pieces, knots[-1:]])
        ref = torchdiffeq.odeint(
            lambda t, z: field(t.expand(1), z),
            z0[i : i + 1],
            knots,
            method=method,
            options={"grid_constructor": lambda f, y0, t, grid=grid: grid},
        )[1:, 0]
        torch.testing.assert_close(batch[i], ref, atol=1e-12, rtol=1e-12)


def test_solve_intervals_fixed_step_size():
    field = Linear(_spiral())
    z = torch.randn(4, 2, dtype=torch.float64)
    start = torch.tensor([0.0, 1.0, -0.5, 2.0], dtype=torch.float64)
    delta = torch.tensor([0.35, -0.8, 0.0, 1.7], dtype=torch.float64)
    counter = NFECounter()
    out = solve_intervals(
        field, z, start, delta, SolverConfig(method="rk4", step_size=0.1), counter
    )
    exact = torch.einsum(
        "bij,bj->bi", torch.linalg.matrix_exp(field.a.detach() * delta[:, None, None]), z
    )
    torch.testing.assert_close(out, exact, atol=1e-4, rtol=1e-4)
    assert counter.forward == 4 * 17  # the longest interval: ceil(1.7 / 0.1) rk4 steps


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_step_size_trajectory_does_not_depend_on_the_query_times(method):
    """With a step_size the grid is each series' own: asking for more times changes nothing."""
    field = Linear(_spiral())
    t0, times = _grids(4, 5, seed=3)
    extra = t0[:, None] + torch.rand(4, 30, dtype=torch.float64) * 4 - 0.5  # some before t0
    both = torch.sort(torch.cat([times, extra], dim=1), dim=1)
    z0 = torch.randn(4, 2, dtype=torch.float64)
    config = SolverConfig(method=method, step_size=0.1)
    few = solve_on_grids(field, z0, t0, times, config)
    many = solve_on_grids(field, z0, t0, both.values, config)
    index = torch.argsort(both.indices, dim=1)[:, :5]  # where the original 5 times went
    picked = torch.gather(many, 1, index.unsqueeze(-1).expand(-1, -1, 2))
    torch.testing.assert_close(picked, few, atol=1e-12, rtol=1e-12)
    if method == "rk4":  # and it is still a solution of the ODE
        exact = _exact_linear(field.a.detach(), z0, t0, times)
        torch.testing.assert_close(few, exact, atol=1e-3, rtol=1e-3)


def test_euler_on_the_step_grid_is_the_partial_euler_step_from_each_grid_point():
    """Queries between grid points: z_k + (t - t_k)·f(t_k, z_k), on both sides of t0,
    with one field evaluation per grid step (not one per query)."""

    class Rows(Linear):  # counts the rows the field is evaluated on
        rows = 0

        def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            Rows.rows += z.shape[0]
            return super().forward(t, z)

    field = Rows(_spiral())
    t0, times = _grids(4, 9, seed=5)
    times = torch.cat([t0[:, None] - 0.37, times], dim=1)  # one query before t0 too
    z0 = torch.randn(4, 2, dtype=torch.float64)
    h = 0.1
    counter = NFECounter()
    out = solve_on_grids(field, z0, t0, times, SolverConfig(method="euler", step_size=h), counter)
    a = field.a.detach()
    for i in range(4):
        for q in range(times.shape[1]):
            dist = float(times[i, q] - t0[i])
            sign = 1.0 if dist >= 0 else -1.0
            n_full = int(abs(dist) // h)
            z = z0[i].clone()
            for _ in range(n_full):  # full steps of sign·h along the grid
                z = z + sign * h * (z @ a.T)
            expected = z + (dist - sign * h * n_full) * (z @ a.T)
            torch.testing.assert_close(out[i, q], expected, atol=1e-6, rtol=1e-6)
    ahead = torch.floor((times - t0[:, None]).clamp(min=0) / h).amax().item()
    behind = torch.floor((t0[:, None] - times).clamp(min=0) / h).amax().item()
    assert counter.forward <= ahead + behind + 2
    # every series' grid steps (one more on each side), and no (series, query) rows
    assert Rows.rows <= 4 * (ahead + behind + 2) < 4 * (ahead + behind) + times.numel()
