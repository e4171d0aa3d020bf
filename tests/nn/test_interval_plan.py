"""The ODE-RNN encoder's intervals planned at once (:class:`IntervalPlan`): the same states,
bit for bit, as solving each interval on its own (:func:`solve_intervals`)."""

from __future__ import annotations

import pytest
import torch

import latentode.nn.odernn as odernn
from latentode.batch import IrregularBatch
from latentode.exceptions import MaxStepsExceededError
from latentode.nn._fixed_steps import IntervalPlan
from latentode.nn.solve import NFECounter, SolverConfig, solve_intervals
from latentode.nn.vector_field import MLPVectorField


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
@pytest.mark.parametrize("step_size", [0.1, None])
def test_advance_equals_solve_intervals_bit_for_bit(method, step_size):
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    field = MLPVectorField(4, 8, 1)
    config = SolverConfig(method=method, step_size=step_size, n_substeps=2 if step_size else 1)
    start = torch.rand(5, 6, generator=g, dtype=torch.float64)
    # short gaps (one step), long ones (several), none (a frozen row) and negative ones
    delta = torch.tensor([0.05, 0.35, 0.0, -0.25, 0.02, 0.0], dtype=torch.float64).repeat(5, 1)
    delta = delta * torch.rand(5, 1, generator=g, dtype=torch.float64)
    delta[:, 5] = 0.0  # a column with no steps at all
    z = torch.randn(3, 5, 4, generator=g)
    plan = IntervalPlan(config, start, delta, z.dtype)
    a = b = z
    count_a, count_b = NFECounter(), NFECounter()
    for j in range(delta.shape[1]):
        a = plan.advance(field, a, j, count_a)
        b = solve_intervals(field, b, start[:, j], delta[:, j], config, count_b)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (count_a.calls, count_a.forward) == (count_b.calls, count_b.forward)
    assert count_a.calls > 0


def test_the_step_budget_is_checked_for_every_interval_at_once():
    config = SolverConfig(method="euler", step_size=0.1, max_num_steps=5)
    delta = torch.tensor([[0.1, 0.2], [0.1, 0.9]], dtype=torch.float64)
    with pytest.raises(MaxStepsExceededError) as info:
        IntervalPlan(config, torch.zeros_like(delta), delta, torch.float32)
    assert info.value.row == 1


def test_the_encoder_states_and_gradients_are_those_of_per_interval_solves(monkeypatch):
    g = torch.Generator().manual_seed(1)
    t = torch.sort(torch.rand(4, 30, generator=g, dtype=torch.float64) * 5, 1).values
    values = torch.randn(4, 30, 2, generator=g)
    mask = (torch.rand(4, 30, 2, generator=g) > 0.3).float()
    batch = IrregularBatch(t, values, mask, torch.tensor([30, 21, 9, 1]))
    torch.manual_seed(0)
    encoder = odernn.ODERNNEncoder(2, 8, solver=SolverConfig(method="euler", step_size=0.1))
    encoder.fused = False  # the step-by-step loop (the fused one: tests/nn/test_fused_odernn.py)

    def run():
        encoder.zero_grad()
        h = encoder(batch)
        h.square().sum().backward()
        return h.detach(), [p.grad.clone() for p in encoder.parameters()]

    planned, planned_grads = run()
    monkeypatch.setattr(odernn, "DIRECT_METHODS", ())  # every interval through solve_intervals
    alone, alone_grads = run()
    torch.testing.assert_close(planned, alone, rtol=0, atol=0)
    for a, b in zip(planned_grads, alone_grads):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
