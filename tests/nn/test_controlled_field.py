"""``ControlledField``: a known input path ``u(t)`` per series, read at each row's own time."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from latentode.nn.solve import SolverConfig, solve_on_grids
from latentode.nn.vector_field import ControlledField, MLPVectorField, piecewise_constant


class Integrator(nn.Module):
    """``dz/dt = u``: the solution is the integral of the input path."""

    def forward(self, t: torch.Tensor, z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return u.to(z.dtype).expand_as(z)


def test_piecewise_constant_holds_each_value_until_the_next_knot():
    times = torch.tensor([[0.0, 1.0, 2.0, 2.0], [0.5, 0.5, 0.5, 0.5]], dtype=torch.float64)
    values = torch.tensor([[1.0, 2.0, 3.0, 3.0], [7.0, 7.0, 7.0, 7.0]]).unsqueeze(-1)
    got = [
        piecewise_constant(times, values, torch.tensor([t, t], dtype=torch.float64))[:, 0]
        for t in (-1.0, 0.0, 0.99, 1.0, 1.5, 2.0, 9.0)
    ]
    expected = [[1, 7], [1, 7], [1, 7], [2, 7], [2, 7], [3, 7], [3, 7]]
    assert [g.tolist() for g in got] == expected


# Three series of different lengths (so fixed-step solves drop finished rows and reorder
# the others) with different input paths, knots on the 0.25 step grid.
KNOTS = torch.tensor(
    [[0.0, 0.5, 1.5, 1.5], [0.0, 0.25, 0.25, 0.25], [0.0, 1.0, 2.0, 2.5]], dtype=torch.float64
)
LEVELS = torch.tensor([[1.0, -2.0, 0.5, 0.5], [3.0, 0.0, 0.0, 0.0], [0.0, 1.0, -1.0, 2.0]])
QUERIES = torch.tensor([[0.3, 1.0, 2.9], [0.1, 0.6, 0.6], [1.2, 2.2, 2.7]], dtype=torch.float64)


def _integral(b: int, t: float) -> float:
    knots, levels = KNOTS[b].tolist(), LEVELS[b].tolist()
    total = 0.0
    for k, (a, level) in enumerate(zip(knots, levels)):
        end = knots[k + 1] if k + 1 < len(knots) else float("inf")
        total += level * max(0.0, min(t, end) - a)
    return total


@pytest.mark.parametrize(
    ("config", "tol"),
    [
        (SolverConfig(method="euler", step_size=0.25), 1e-6),
        (SolverConfig(method="midpoint", step_size=0.25), 1e-6),
        (SolverConfig(method="dopri5", rtol=1e-7, atol=1e-9), 1e-4),
        (SolverConfig(method="dopri5", rtol=1e-7, atol=1e-9, adjoint=True), 1e-4),
    ],
)
def test_each_row_integrates_its_own_input_path(config, tol):
    # Fixed steps read the input at their stages: with knots on the step grid, Euler and
    # midpoint stages never straddle a knot and the integral is exact (rk4's last stage
    # sits on the next knot and reads the value after it).
    field = ControlledField(Integrator(), KNOTS, LEVELS.unsqueeze(-1))
    z0 = torch.zeros(2, 3, 1)  # two samples of three series
    z = field.strip(
        solve_on_grids(
            field, field.augment(z0), torch.zeros(3, dtype=torch.float64), QUERIES, config
        )
    )
    expected = torch.tensor([[_integral(b, float(t)) for t in QUERIES[b]] for b in range(3)])
    assert z.shape == (2, 3, 3, 1)
    torch.testing.assert_close(z[..., 0], expected.expand(2, 3, 3), atol=tol, rtol=0)


def test_a_field_with_controls_refuses_a_call_without_them():
    field = MLPVectorField(2, 8, 1, n_controls=1)
    assert field(torch.zeros(3), torch.zeros(3, 2), torch.ones(3, 1)).shape == (3, 2)
    with pytest.raises(ValueError, match="1 control input"):
        field(torch.zeros(3), torch.zeros(3, 2))


def test_the_encoder_reads_the_covariates_at_each_real_step():
    from latentode.batch import IrregularBatch
    from latentode.models.latent_ode import with_covariate_inputs

    times = torch.tensor([[0.0, 0.6, 1.2], [0.2, 0.2, 0.2]], dtype=torch.float64)
    batch = IrregularBatch(
        times=times,
        values=torch.ones(2, 3, 1),
        mask=torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]]).unsqueeze(-1),
        lengths=torch.tensor([3, 1]),
        cov_times=KNOTS[:2],
        cov_values=LEVELS[:2].unsqueeze(-1),
    )
    out = with_covariate_inputs(batch)
    assert out.values.shape == (2, 3, 2) and out.cov_times is batch.cov_times
    torch.testing.assert_close(out.values[..., 0], batch.values[..., 0])
    # series 0 at 0, 0.6, 1.2 reads 1, -2, -2; series 1 (one real step) reads 0 at 0.2
    torch.testing.assert_close(
        out.values[..., 1], torch.tensor([[1.0, -2.0, -2.0], [3.0, 0.0, 0.0]])
    )
    torch.testing.assert_close(out.mask[..., 1], torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))
    plain = IrregularBatch(times, batch.values, batch.mask, batch.lengths)
    assert with_covariate_inputs(plain) is plain
