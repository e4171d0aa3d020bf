"""Anchor features: the context's nearest observations of each feature around a query."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentode.batch import IrregularBatch
from latentode.models._anchors import anchor_features
from latentode.nn.anchored_observation import N_ANCHOR_FEATURES, AnchoredObservation


def _context() -> IrregularBatch:
    times = torch.tensor([[0.0, 1.0, 3.0, 3.0]], dtype=torch.float64)  # the last is padding
    values = torch.tensor([[[1.0, 10.0], [2.0, 0.0], [4.0, 30.0], [0.0, 0.0]]])
    mask = torch.tensor([[[1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]])
    return IrregularBatch(times, values, mask, torch.tensor([3]))


def test_anchor_is_the_interpolation_of_the_nearest_observations_of_each_feature():
    queries = torch.tensor([[-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 5.0]], dtype=torch.float64)
    f = anchor_features(_context(), queries)[0].numpy()
    assert f.shape == (7, 2, N_ANCHOR_FEATURES + 4)
    # feature 0, observed at 0, 1, 3: value 1, 2, 4
    np.testing.assert_allclose(f[:, 0, 0], [1.0, 1.0, 1.5, 2.0, 3.0, 4.0, 4.0])
    # feature 1, observed at 0 and 3 only (unobserved at 1): value 10, 30
    expected = [10.0, 10.0, 13.333333, 16.666666, 23.333333, 30.0, 30.0]
    np.testing.assert_allclose(f[:, 1, 0], expected)
    # before the first observation there is no previous one; after the last no next one
    np.testing.assert_array_equal(f[:, 0, 1], [0, 1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(f[:, 0, 2], [1, 1, 1, 1, 1, 1, 0])
    # gaps to the neighbours, log1p-scaled; zero on an observation of that feature
    np.testing.assert_allclose(f[:, 1, 3], np.log1p([0, 0, 0.5, 1.0, 2.0, 0, 2.0]), rtol=1e-6)
    np.testing.assert_allclose(f[:, 1, 4], np.log1p([1.0, 0, 2.5, 2.0, 1.0, 0, 0]), rtol=1e-6)
    # neighbour values
    np.testing.assert_allclose(f[:, 1, 5], [0.0, 10, 10, 10, 10, 30, 30])
    np.testing.assert_allclose(f[:, 1, 6], [10.0, 10, 30, 30, 30, 30, 0])
    # the series' level and how many observations it rests on, the same at every query
    np.testing.assert_allclose(f[:, 0, 7], 7.0 / 3)
    np.testing.assert_allclose(f[:, 1, 7], 20.0)
    np.testing.assert_allclose(f[:, 0, 8], np.log1p(3.0), rtol=1e-6)
    np.testing.assert_allclose(f[:, 1, 8], np.log1p(2.0), rtol=1e-6)
    # kernel averages: a narrow one is the nearest value, a wide one tends to the level
    # (each average counts the level once, as a prior point)
    w = np.exp(-0.5 * ((2.0 - np.array([0.0, 3.0])) / 3.0) ** 2)
    wide = (w @ [10.0, 30.0] + 20.0) / (w.sum() + 1.0)
    np.testing.assert_allclose(f[4, 1, 13], wide, rtol=1e-5)
    np.testing.assert_allclose(f[4, 1, 14], np.log1p(w.sum()), rtol=1e-5)
    # the other features observed at exactly the query time (values, then indicators)
    c = f[..., N_ANCHOR_FEATURES:]
    np.testing.assert_allclose(c[1, 0], [0.0, 10.0, 0.0, 1.0])  # t = 0: feature 1 seen
    np.testing.assert_allclose(c[1, 1], [1.0, 0.0, 1.0, 0.0])  # t = 0: feature 0 seen
    np.testing.assert_allclose(c[3, 1], [2.0, 0.0, 1.0, 0.0])  # t = 1: only feature 0
    np.testing.assert_allclose(c[3, 0], [0.0, 0.0, 0.0, 0.0])  # feature 1 unseen at t = 1
    np.testing.assert_allclose(c[2], 0.0)  # t = 0.5 is no context time
    # at t = 0 with h = 0.2 only the observation there (1.0) has weight, shrunk to the level
    np.testing.assert_allclose(f[1, 0, 9], (1.0 + 7.0 / 3) / 2, rtol=1e-4)


def test_padding_and_other_series_do_not_leak_into_anchors():
    alone = anchor_features(_context(), torch.tensor([[2.0, 4.0]], dtype=torch.float64))
    other = IrregularBatch(
        torch.tensor([[0.0, 0.5, 2.5, 9.0]], dtype=torch.float64),
        torch.full((1, 4, 2), 99.0),
        torch.ones(1, 4, 2),
        torch.tensor([4]),
    )
    ctx = _context()
    both = IrregularBatch(
        torch.cat([ctx.times, other.times]),
        torch.cat([ctx.values, other.values]),
        torch.cat([ctx.mask, other.mask]),
        torch.tensor([3, 4]),
    )
    in_batch = anchor_features(both, torch.tensor([[2.0, 4.0], [1.0, 1.0]], dtype=torch.float64))
    torch.testing.assert_close(in_batch[:1], alone)


def test_untrained_anchored_head_averages_latent_decode_anchor_and_level():
    head = AnchoredObservation(latent_dim=3, n_features=2, hidden_dim=8, obs_std=None)
    anchors = anchor_features(_context(), torch.tensor([[0.5, 2.0]], dtype=torch.float64))
    z = torch.randn(4, 1, 2, 3)
    mean, log_std = head.distribution(z, anchors)
    parts = [anchors[..., i] for i in (0, 7, 9, 11, 13)]
    expected = (head.decoder(z) + sum(parts)) / 6
    torch.testing.assert_close(mean, expected)
    torch.testing.assert_close(log_std.exp(), head.std.expand_as(log_std))


def test_anchored_head_falls_back_to_the_latent_decode_without_any_observation():
    head = AnchoredObservation(latent_dim=3, n_features=2, hidden_dim=8)
    empty = IrregularBatch(
        torch.zeros(1, 2, dtype=torch.float64),
        torch.zeros(1, 2, 2),
        torch.zeros(1, 2, 2),
        torch.tensor([2]),
    )
    anchors = anchor_features(empty, torch.tensor([[0.5]], dtype=torch.float64))
    z = torch.randn(2, 1, 1, 3)
    mean, _ = head.distribution(z, anchors)
    torch.testing.assert_close(mean, head.decoder(z))


def test_cross_feature_regression_enters_only_where_another_feature_was_observed():
    head = AnchoredObservation(latent_dim=3, n_features=2, hidden_dim=8)
    with torch.no_grad():
        head.cross_weight.copy_(torch.tensor([[0.0, 5.0], [3.0, 0.0]]))
        head.cross_bias.copy_(torch.tensor([0.5, -1.0]))
    # t = 1: feature 0 observed (2.0), feature 1 not; t = 2: nothing observed there.
    anchors = anchor_features(_context(), torch.tensor([[1.0, 2.0]], dtype=torch.float64))
    z = torch.randn(4, 1, 2, 3)
    mean, _ = head.distribution(z, anchors)
    latent = head.decoder(z)
    parts = sum(anchors[..., i] for i in (0, 7, 9, 11, 13))
    # Feature 1 at t = 1 reads feature 0: the untrained head averages seven components.
    cross = 3.0 * 2.0 - 1.0
    torch.testing.assert_close(mean[..., 0, 1], (latent[..., 0, 1] + parts[..., 0, 1] + cross) / 7)
    # Feature 0 at t = 1 (feature 1 unobserved there) and both at t = 2: no regression.
    torch.testing.assert_close(mean[..., 0, 0], (latent[..., 0, 0] + parts[..., 0, 0]) / 6)
    torch.testing.assert_close(mean[..., 1, :], (latent[..., 1, :] + parts[..., 1, :]) / 6)


def test_concurrent_noise_factor_scales_only_values_with_another_feature_seen_then():
    head = AnchoredObservation(latent_dim=3, n_features=2, hidden_dim=8)
    # t = 1: feature 0 observed, feature 1 not (feature 1 is concurrent, feature 0 alone);
    # t = 2: nothing observed (both alone).
    anchors = anchor_features(_context(), torch.tensor([[1.0, 2.0]], dtype=torch.float64))
    z = torch.randn(4, 1, 2, 3)
    _, before = head.distribution(z, anchors)
    with torch.no_grad():
        head.log_concurrent.copy_(torch.tensor([0.7, -0.4]))
    _, after = head.distribution(z, anchors)
    torch.testing.assert_close(after[..., 0, 1] - before[..., 0, 1], torch.full((4, 1), -0.4))
    torch.testing.assert_close(after[..., 0, 0], before[..., 0, 0])
    torch.testing.assert_close(after[..., 1, :], before[..., 1, :])


def test_cross_regression_starts_at_the_least_squares_fit_of_the_training_rows():
    rng = np.random.default_rng(0)
    x0 = torch.tensor(rng.normal(size=400), dtype=torch.float32)
    values = torch.stack([x0, 2.0 * x0 + 1.0, torch.zeros_like(x0)], dim=1)
    mask = torch.ones_like(values)
    mask[:, 2] = 0.0  # feature 2 never observed together with the others
    head = AnchoredObservation(latent_dim=2, n_features=3, hidden_dim=4)
    head.fit_cross_regression(values, mask, ridge=1e-6)
    w, b = head.cross_weight.detach(), head.cross_bias.detach()
    torch.testing.assert_close(w[1, 0], torch.tensor(2.0), atol=1e-3, rtol=0)
    torch.testing.assert_close(b[1], torch.tensor(1.0), atol=1e-3, rtol=0)
    torch.testing.assert_close(w[0, 1], torch.tensor(0.5), atol=1e-3, rtol=0)
    torch.testing.assert_close(b[0], torch.tensor(-0.5), atol=1e-3, rtol=0)
    assert torch.all(w[2] == 0) and b[2] == 0  # no rows: left at zero


def _kernel_reference(context: IrregularBatch, times: torch.Tensor) -> torch.Tensor:
    """Features 9-14 by the direct formula (every query against every context step)."""
    from latentode.models._anchors import BANDWIDTHS

    t, values = context.times, context.values
    valid = torch.arange(t.shape[1]).unsqueeze(0) < context.lengths.unsqueeze(1)
    weight = ((context.mask > 0) & valid.unsqueeze(-1)).double()
    v = values.double()
    level = (v * weight).sum(1) / weight.sum(1).clamp(min=1.0)
    dist = times.double().unsqueeze(-1) - t.double().unsqueeze(1)  # (B, Q, K)
    out = []
    for h in BANDWIDTHS:
        k = torch.exp(-0.5 * (dist / h) ** 2).unsqueeze(-1) * weight.unsqueeze(1)
        total = k.sum(2)
        out += [((k * v.unsqueeze(1)).sum(2) + level.unsqueeze(1)) / (total + 1.0), total.log1p()]
    return torch.stack(out, dim=-1)


@pytest.mark.parametrize("span", [5.0, 200.0])
def test_kernel_averages_are_computed_in_bounded_blocks_with_the_same_values(span, monkeypatch):
    import latentode.models._anchors as anchors_module

    g = torch.Generator().manual_seed(0)
    n, k, d, q = 4, 300, 2, 250
    t = torch.sort(torch.rand(n, k, generator=g, dtype=torch.float64) * span, dim=1).values
    values = torch.randn(n, k, d, generator=g)
    mask = (torch.rand(n, k, d, generator=g) > 0.3).float()
    context = IrregularBatch(t, values, mask, torch.tensor([300, 120, 7, 1]))
    times = torch.sort(torch.rand(n, q, generator=g, dtype=torch.float64) * span * 1.2, 1).values
    expected = _kernel_reference(context, times)
    whole = anchor_features(context, times)[..., 9:15]
    np.testing.assert_allclose(whole.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)

    largest = [0]
    real_exp = torch.exp

    def spy(x, *args, **kwargs):
        largest[0] = max(largest[0], x.numel())
        return real_exp(x, *args, **kwargs)

    monkeypatch.setattr(anchors_module, "KERNEL_BLOCK", n * k * 10)  # 10 queries a block
    monkeypatch.setattr(torch, "exp", spy)
    blocked = anchor_features(context, times)[..., 9:15]
    assert largest[0] <= n * k * 10  # no (B, Q, K) matrix at once: memory linear in Q
    if span > 100:  # bandwidths << span: each block reads only a window of the context
        assert largest[0] < n * k * 10 / 2
    np.testing.assert_allclose(blocked.numpy(), whole.numpy(), rtol=1e-6, atol=1e-6)


def test_anchored_head_in_blocks_of_samples_equals_one_block_with_gradients(monkeypatch):
    import latentode.nn.anchored_observation as head_module

    torch.manual_seed(0)
    head = AnchoredObservation(latent_dim=3, n_features=2, hidden_dim=8)
    torch.nn.init.normal_(head.net[-1].weight)  # a trained-like gate, not the zero start
    anchors = anchor_features(_context(), torch.tensor([[0.5, 1.0, 2.0]], dtype=torch.float64))
    z = torch.randn(5, 1, 3, 3, requires_grad=True)
    whole = head._parts(z, anchors)
    grads = torch.autograd.grad(whole.mean.sum() + whole.log_std.sum(), [z, head.net[0].weight])

    one_sample = anchors.shape[0] * anchors.shape[1] * anchors.shape[2] * 8
    monkeypatch.setattr(head_module, "_BLOCK_VALUES", 2 * one_sample)  # blocks of 2, 2, 1
    assert head_module._sample_blocks(torch.zeros(1, 3, 2, 8)) == 2
    blocked = head._parts(z, anchors)
    for a, b in zip(blocked, whole, strict=True):
        torch.testing.assert_close(a, b)
    again = torch.autograd.grad(blocked.mean.sum() + blocked.log_std.sum(), [z, head.net[0].weight])
    for a, b in zip(again, grads, strict=True):
        torch.testing.assert_close(a, b)
