"""The ODE-RNN encoder's fused loop (:mod:`latentode.nn._fused_odernn`): the same states and
gradients as the step-by-step loop it replaces in training."""

from __future__ import annotations

import pytest
import torch

from latentode.batch import IrregularBatch
from latentode.nn._fused_odernn import fusable
from latentode.nn._scan import low_memory
from latentode.nn.odernn import ODERNNEncoder
from latentode.nn.solve import SolverConfig
from latentode.nn.vector_field import MLPVectorField


def _batch(dtype: torch.dtype, n_steps: int = 30) -> IrregularBatch:
    g = torch.Generator().manual_seed(1)
    t = torch.sort(torch.rand(5, n_steps, generator=g, dtype=torch.float64) * 5, 1).values
    values = torch.randn(5, n_steps, 2, generator=g, dtype=dtype)
    mask = (torch.rand(5, n_steps, 2, generator=g) > 0.3).to(dtype)
    # padding (rows of 21, 9 and 1 real steps), and a repeated time (a zero gap)
    t[0, 5] = t[0, 4]
    lengths = torch.tensor([n_steps, 21, 9, 1, n_steps])
    return IrregularBatch(t, values, mask, lengths)


def _run(encoder: ODERNNEncoder, batch: IrregularBatch, fused: bool):
    encoder.fused = fused
    encoder.zero_grad()
    encoder.counter.reset()
    h = encoder(batch)
    # weights on the output so that every unit's gradient differs
    (h * torch.linspace(-1, 2, h.shape[-1], dtype=h.dtype)).tanh().sum().backward()
    grads = {k: p.grad.clone() for k, p in encoder.named_parameters()}
    return h.detach(), grads, (encoder.counter.calls, encoder.counter.forward)


@pytest.mark.parametrize("step_size", [0.5, 0.05])  # one Euler step per gap, or several
@pytest.mark.parametrize("field_layers", [1, 2, 0])
def test_fused_states_and_gradients_equal_the_step_loop(step_size, field_layers):
    torch.manual_seed(0)
    solver = SolverConfig(method="euler", step_size=step_size)
    encoder = ODERNNEncoder(
        2, 8, field_hidden_dim=6, field_layers=field_layers, solver=solver
    ).double()
    batch = _batch(torch.float64)
    h_loop, g_loop, nfe_loop = _run(encoder, batch, fused=False)
    h_fused, g_fused, nfe_fused = _run(encoder, batch, fused=True)
    torch.testing.assert_close(h_fused, h_loop, rtol=1e-12, atol=1e-12)
    assert g_fused.keys() == g_loop.keys()
    for name in g_loop:
        assert g_loop[name].abs().sum() > 0, name  # every parameter takes part
        torch.testing.assert_close(g_fused[name], g_loop[name], rtol=1e-10, atol=1e-12)
    assert nfe_fused == nfe_loop and nfe_loop[0] > 0


def test_fused_float32_and_the_input_gradient():
    torch.manual_seed(0)
    encoder = ODERNNEncoder(2, 16, solver=SolverConfig(method="euler", step_size=0.5))
    batch = _batch(torch.float32)
    h_loop, g_loop, _ = _run(encoder, batch, fused=False)
    h_fused, g_fused, _ = _run(encoder, batch, fused=True)
    torch.testing.assert_close(h_fused, h_loop, rtol=1e-5, atol=1e-6)
    for name in g_loop:
        torch.testing.assert_close(g_fused[name], g_loop[name], rtol=1e-4, atol=1e-5)
    # inputs that need a gradient (e.g. values from an upstream module)
    values = batch.values.clone().requires_grad_(True)
    grads = []
    for fused in (False, True):
        encoder.fused = fused
        b = IrregularBatch(batch.times, values, batch.mask, batch.lengths)
        (g,) = torch.autograd.grad(encoder(b).sum(), values)
        grads.append(g)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6)
    assert grads[0].abs().sum() > 0


def test_the_fused_loop_is_used_only_where_it_computes_the_same(monkeypatch):
    import latentode.nn.odernn as odernn

    calls = []
    real = odernn.fused_odernn
    monkeypatch.setattr(odernn, "fused_odernn", lambda *a: calls.append(1) or real(*a))
    torch.manual_seed(0)
    batch = _batch(torch.float32)
    encoder = ODERNNEncoder(2, 8, solver=SolverConfig(method="euler", step_size=0.5))
    encoder(batch)
    assert len(calls) == 1
    with torch.no_grad():  # inference: the step loop, no graph to save
        encoder(batch)
    with low_memory():  # a checkpointed loop keeps its segments
        encoder(_batch(torch.float32, n_steps=300))
    ODERNNEncoder(2, 8, solver=SolverConfig(method="rk4", step_size=0.5))(batch)
    assert len(calls) == 1
    assert not fusable(MLPVectorField(8, 8, 1, activation="softplus"), encoder.cell)
    assert not fusable(MLPVectorField(8, 8, 1, time_dependent=True), encoder.cell)
    assert fusable(encoder.field, encoder.cell)


@pytest.mark.gpu
def test_the_fused_loops_on_cuda_equal_the_step_loops_there():
    from latentode.nn._fused_euler import fused_euler

    torch.manual_seed(0)
    encoder = ODERNNEncoder(2, 8, solver=SolverConfig(method="euler", step_size=0.05)).cuda()
    b = _batch(torch.float32)
    batch = IrregularBatch(b.times.cuda(), b.values.cuda(), b.mask.cuda(), b.lengths.cuda())
    h_loop, g_loop, _ = _run(encoder, batch, fused=False)
    h_fused, g_fused, _ = _run(encoder, batch, fused=True)
    torch.testing.assert_close(h_fused, h_loop, rtol=1e-5, atol=1e-6)
    for name in g_loop:
        torch.testing.assert_close(g_fused[name], g_loop[name], rtol=1e-4, atol=1e-5)
    field = MLPVectorField(4, 8, 2).cuda()
    z0 = torch.randn(3, 5, 4, device="cuda", requires_grad=True)
    size = torch.full((5, 6), 0.1, dtype=torch.float64, device="cuda")
    states = fused_euler(field, z0, size)
    (g,) = torch.autograd.grad(states.square().sum(), z0)
    z, loop = z0, [z0]
    for _ in range(6):
        z = z + 0.1 * field(None, z)
        loop.append(z)
    (g_ref,) = torch.autograd.grad(torch.stack(loop).square().sum(), z0)
    torch.testing.assert_close(states, torch.stack(loop), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g, g_ref, rtol=1e-4, atol=1e-5)


def test_the_fused_encoder_backs_up_twice_with_retain_graph():
    torch.manual_seed(0)
    encoder = ODERNNEncoder(2, 8, solver=SolverConfig(method="euler", step_size=0.5)).double()
    h = encoder(_batch(torch.float64))
    first = torch.autograd.grad(h.sum(), list(encoder.parameters()), retain_graph=True)
    second = torch.autograd.grad(h.sum(), list(encoder.parameters()))
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
