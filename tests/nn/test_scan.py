"""Checkpointed encoder loops: the same values and gradients, a fraction of the memory."""

from __future__ import annotations

import pytest
import torch

from latentode.batch import IrregularBatch
from latentode.nn import _scan
from latentode.nn.grud_encoder import GRUDEncoder
from latentode.nn.odernn import ODERNNEncoder


def _batch(n_series: int, n_steps: int) -> IrregularBatch:
    g = torch.Generator().manual_seed(0)
    t = torch.sort(torch.rand(n_series, n_steps, generator=g, dtype=torch.float64) * 5, 1).values
    values = torch.randn(n_series, n_steps, 2, generator=g)
    mask = (torch.rand(n_series, n_steps, 2, generator=g) > 0.3).float()
    lengths = torch.tensor([n_steps - 7 * i for i in range(n_series)])
    return IrregularBatch(t, values, mask, lengths)


def _saved_bytes(fn) -> int:
    """Bytes autograd keeps for the backward pass while ``fn`` runs."""
    total = [0]

    def pack(x: torch.Tensor) -> torch.Tensor:
        total[0] += x.numel() * x.element_size()
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        out = fn()
    return total[0], out


@pytest.mark.parametrize("make", [lambda: ODERNNEncoder(2, 8), lambda: GRUDEncoder(2, 8)])
def test_long_loops_are_checkpointed_with_identical_values_and_gradients(make, monkeypatch):
    monkeypatch.setattr(_scan, "CHECKPOINT_MIN", 1000)
    torch.manual_seed(0)
    encoder = make()
    encoder.fused = False  # the plain loop step by step (the fused one: test_fused_odernn.py)
    batch = _batch(3, 600)  # > 2 x SEGMENT steps: checkpointed
    checkpointed_bytes, h = _saved_bytes(lambda: encoder(batch))
    checkpointed_nodes = _graph_nodes(h)
    grads = _grads(encoder, h)

    monkeypatch.setattr(_scan, "SEGMENT", 10_000)  # one plain loop
    plain_bytes, h_plain = _saved_bytes(lambda: encoder(batch))
    plain_nodes = _graph_nodes(h_plain)
    grads_plain = _grads(encoder, h_plain)

    torch.testing.assert_close(h, h_plain, rtol=0, atol=0)
    for a, b in zip(grads, grads_plain):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert checkpointed_bytes < 0.1 * plain_bytes
    # one node a segment, not one an operation (the nodes cost memory too)
    assert checkpointed_nodes < 0.02 * plain_nodes


def _grads(module: torch.nn.Module, h: torch.Tensor) -> list[torch.Tensor]:
    module.zero_grad()
    h.square().sum().backward()
    return [p.grad.clone() for p in module.parameters()]


def _graph_nodes(out: torch.Tensor) -> int:
    """Autograd nodes reachable from ``out``."""
    seen, todo = set(), [out.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        todo.extend(next_fn for next_fn, _ in node.next_functions)
    return len(seen)


def test_short_loops_and_inference_are_not_checkpointed(monkeypatch):
    monkeypatch.setattr(_scan, "CHECKPOINT_MIN", 1000)
    calls = []
    real = _scan.checkpoint
    monkeypatch.setattr(_scan, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    encoder = ODERNNEncoder(2, 8)
    encoder(_batch(2, 2 * _scan.SEGMENT)).sum().backward()
    with torch.no_grad():
        encoder(_batch(2, 600))
    assert calls == []
    encoder(_batch(2, 400)).sum().backward()  # 800 series-steps: below the minimum
    assert calls == []
    encoder(_batch(2, 600)).sum().backward()
    assert len(calls) == -(-600 // _scan.SEGMENT)


def test_long_loops_of_few_rows_and_low_memory_blocks_are_checkpointed(monkeypatch):
    calls = []
    real = _scan.checkpoint
    monkeypatch.setattr(_scan, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    encoder = ODERNNEncoder(2, 8)
    encoder(_batch(1, 600)).sum().backward()  # 600 series-steps, 600 steps: plain
    assert calls == []
    with _scan.low_memory():
        encoder(_batch(1, 600)).sum().backward()
    assert len(calls) == -(-600 // _scan.SEGMENT)
    assert not _scan.is_low_memory()  # the block restores the default
    monkeypatch.setattr(_scan, "CHECKPOINT_MIN_STEPS", 500)  # the step count alone decides
    calls.clear()
    encoder(_batch(1, 600)).sum().backward()
    assert len(calls) == -(-600 // _scan.SEGMENT)
