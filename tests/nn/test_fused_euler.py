"""Euler steps of a latent field fused into one autograd node
(:mod:`latentode.nn._fused_euler`): the states and gradients of the step-by-step loop."""

from __future__ import annotations

import pytest
import torch

from latentode.nn import _fixed_steps
from latentode.nn._fused_euler import fusable_field, fused_euler
from latentode.nn.solve import NFECounter
from latentode.nn.vector_field import MLPVectorField


def _loop(field, z0, size):
    states = [z0]
    for j in range(size.shape[1]):
        states.append(states[-1] + size[:, j].to(z0.dtype).unsqueeze(-1) * field(None, states[-1]))
    return torch.stack(states)


def _grads(field, z0, states, weights):
    loss = (states * weights).tanh().sum()
    return torch.autograd.grad(loss, [z0, *field.parameters()])


@pytest.mark.parametrize("layers", [0, 1, 2])
@pytest.mark.parametrize("lead", [(), (3,)])  # posterior samples in front of the series
def test_fused_states_and_gradients_equal_the_step_loop(layers, lead):
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    field = MLPVectorField(4, 7, layers).double()
    z0 = torch.randn(*lead, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    size = torch.rand(5, 9, generator=g, dtype=torch.float64) * 0.3
    size[1, 4:] = 0.0  # a series that finished early
    size[3, 2] = 0.0  # a zero gap
    weights = torch.randn(10, *lead, 5, 4, generator=g, dtype=torch.float64)
    loop = _loop(field, z0, size)
    fused = fused_euler(field, z0, size)
    torch.testing.assert_close(fused, loop, rtol=1e-13, atol=1e-13)
    for a, b in zip(_grads(field, z0, fused, weights), _grads(field, z0, loop, weights)):
        assert b.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)


def test_fixed_steps_uses_it_for_euler_with_gradients_only(monkeypatch):
    calls = []
    real = _fixed_steps.fused_euler
    monkeypatch.setattr(_fixed_steps, "fused_euler", lambda *a: calls.append(1) or real(*a))
    field = MLPVectorField(4, 8, 1)
    z0 = torch.randn(2, 5, 4, requires_grad=True)
    start, size = (
        torch.zeros(5, 6, dtype=torch.float64),
        torch.full((5, 6), 0.1, dtype=torch.float64),
    )
    counter = NFECounter()
    fused = _fixed_steps.fixed_steps(field, z0, start, size, "euler", counter)
    assert len(calls) == 1 and len(fused) == 7 and (counter.calls, counter.forward) == (6, 6)
    with torch.no_grad():
        plain = _fixed_steps.fixed_steps(field, z0, start, size, "euler", NFECounter())
    _fixed_steps.fixed_steps(field, z0, start, size, "midpoint", NFECounter())
    assert len(calls) == 1
    for a, b in zip(fused, plain):
        torch.testing.assert_close(a.detach(), b, rtol=1e-5, atol=1e-6)
    assert not fusable_field(MLPVectorField(4, 8, 1, activation="relu"))
    assert not fusable_field(MLPVectorField(4, 8, 1, n_controls=2))


def test_retain_graph_backs_up_twice_and_a_second_derivative_raises():
    torch.manual_seed(0)
    field = MLPVectorField(4, 8, 1).double()
    z0 = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    size = torch.full((5, 3), 0.1, dtype=torch.float64)
    loss = fused_euler(field, z0, size).square().sum()
    (once,) = torch.autograd.grad(loss, z0, retain_graph=True)
    (again,) = torch.autograd.grad(loss, z0)
    torch.testing.assert_close(again, once, rtol=0, atol=0)
    (g,) = torch.autograd.grad(fused_euler(field, z0, size).sum(), z0, create_graph=True)
    with pytest.raises(RuntimeError, match=r"does not require grad|once_differentiable"):
        torch.autograd.grad(g.sum(), z0)


def test_the_weights_gradients_summed_over_chunks_equal_the_step_loops(monkeypatch):
    from latentode.nn import _fused_euler

    monkeypatch.setattr(_fused_euler, "GRAD_CHUNK", 4)  # 9 steps: chunks of 4, 4 and 1
    g = torch.Generator().manual_seed(2)
    torch.manual_seed(0)
    field = MLPVectorField(4, 7, 2).double()
    z0 = torch.randn(3, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    size = torch.rand(5, 9, generator=g, dtype=torch.float64) * 0.3
    weights = torch.randn(10, 3, 5, 4, generator=g, dtype=torch.float64)
    fused = _grads(field, z0, fused_euler(field, z0, size), weights)
    loop = _grads(field, z0, _loop(field, z0, size), weights)
    for a, b in zip(fused, loop):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("memory, fused", [("auto", True), ("low", False)])
def test_memory_low_trains_the_decoder_step_by_step(monkeypatch, memory, fused):
    # memory="low" keeps the step loop: the fused steps' buffers raised its 10,000-point peak
    from latentode import LatentODEForecaster
    from latentode.datasets import make_periodic

    calls = []
    real = _fixed_steps.fused_euler
    monkeypatch.setattr(_fixed_steps, "fused_euler", lambda *a: calls.append(1) or real(*a))
    data = make_periodic(n_series=12, n_points=20, random_state=0)
    LatentODEForecaster(max_epochs=1, memory=memory, random_state=0).fit(data)
    assert bool(calls) is fused
