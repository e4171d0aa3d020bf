"""Anchor features: what the observed context says about each feature at each query time.

For every series ``b``, query time ``t`` and feature ``d`` the context's nearest observation
of ``d`` at or before ``t`` (``prev``) and at or after ``t`` (``next``) give

====  ===========================================================================
0     the anchor: linear interpolation between ``prev`` and ``next``, else the one
      that exists (last value carried forward / backward), else 0 (the feature mean)
1, 2  whether ``prev`` / ``next`` exist
3, 4  ``log1p`` of the time from ``prev`` to ``t`` and from ``t`` to ``next`` (0 if absent)
5, 6  the ``prev`` and ``next`` values (0 if absent)
7     the mean of the feature's context observations (0 if none: the training mean)
8     ``log1p`` of the number of those observations
9-14  for each bandwidth ``h`` of :data:`BANDWIDTHS`: the Gaussian-kernel average of the
      feature's context observations around ``t`` (shrunk towards the level where the
      kernel's weights are small) and ``log1p`` of the sum of those weights
15-   the values of the *other* features observed at exactly ``t`` (``D`` values, then
      ``D`` indicators; the feature's own entries are 0): a value missing from a step whose
      other features were measured can be read off them (e.g. arrival from departure delay)
====  ===========================================================================

An anchored observation head predicts ``anchor + correction(z(t), features)`` with a noise
scale that can grow with the gaps, so the model keeps what simple interpolation knows and
the latent dynamics only have to explain what it misses; the series' level (the mean of its
observations) is there for noisy features, whose best guess away from an observation is
their typical value rather than the nearest one.
"""

from __future__ import annotations

import torch

from latentode.batch import IrregularBatch
from latentode.nn._scan import is_low_memory
from latentode.nn.anchored_observation import N_ANCHOR_FEATURES

__all__ = ["BANDWIDTHS", "N_ANCHOR_FEATURES", "anchor_features"]

#: Kernel bandwidths of the local averages, in solver time units (a median series spans
#: ``time_span``, 5 by default): a few observations wide, a fifth and two thirds of a span.
BANDWIDTHS = (0.2, 1.0, 3.0)

#: Elements of one block of the kernel averages' ``(B, queries, K)`` kernel matrices (a
#: block's temporaries take about 30 bytes an element), and within a
#: :func:`latentode.nn._scan.low_memory` block (``memory="low"``). Blocks that stay in the
#: CPU's cache are faster: against 2^22 elements, 2^20 took 0.45-0.65x the time for
#: batches of 100 series × 100 or 300 steps and 32 × 1,000 or 3,000 (fastest of 5 calls,
#: 1 thread); 2^19 about the same as 2^20.
KERNEL_BLOCK = 1 << 20
KERNEL_BLOCK_LOW = 1 << 19

#: Context steps farther than this many bandwidths from every query of a block are skipped.
KERNEL_RADIUS = 8.0


def anchor_features(context: IrregularBatch, times: torch.Tensor) -> torch.Tensor:
    """Anchor features ``(B, Q, D, N_ANCHOR_FEATURES + 2 D)`` of ``context`` at query
    ``times`` ``(B, Q)``."""
    t, values, mask = context.times, context.values, context.mask
    _, n_steps, n_features = values.shape
    valid = torch.arange(n_steps, device=t.device).unsqueeze(0) < context.lengths.unsqueeze(1)
    observed = (mask > 0) & valid.unsqueeze(-1)  # (B, K, D)
    steps = torch.arange(n_steps, device=t.device).view(1, -1, 1).expand_as(observed)
    # Index of the last observation at or before step k, and of the first at or after it.
    last = torch.where(observed, steps, torch.full_like(steps, -1)).cummax(dim=1).values
    first = torch.where(observed, steps, torch.full_like(steps, n_steps))
    first = first.flip(1).cummin(dim=1).values.flip(1)
    # Context step of each query: the last step at or before it (-1 before the first).
    times = times.to(t.dtype)
    tt = torch.where(valid, t, torch.full_like(t, float("inf")))
    at = torch.searchsorted(tt.contiguous(), times.contiguous(), right=True) - 1  # (B, Q)
    exact = torch.gather(tt, 1, at.clamp(min=0)) == times  # a query on a context time
    k_prev = torch.gather(last, 1, at.clamp(min=0).unsqueeze(-1).expand(-1, -1, n_features))
    k_prev = torch.where((at >= 0).unsqueeze(-1), k_prev, torch.full_like(k_prev, -1))
    after = torch.where(exact, at, at + 1).clamp(max=n_steps - 1)
    k_next = torch.gather(first, 1, after.unsqueeze(-1).expand(-1, -1, n_features))
    k_next = torch.where((at + 1 < n_steps).unsqueeze(-1) | exact.unsqueeze(-1), k_next, n_steps)
    has_prev, has_next = k_prev >= 0, k_next < n_steps
    v_prev = _gather_steps(values, k_prev.clamp(0, n_steps - 1)) * has_prev
    v_next = _gather_steps(values, k_next.clamp(0, n_steps - 1)) * has_next
    t_prev = _gather_times(t, k_prev.clamp(0, n_steps - 1))
    t_next = _gather_times(t, k_next.clamp(0, n_steps - 1))
    q = times.unsqueeze(-1)
    dt_prev = torch.where(has_prev, q - t_prev, torch.zeros_like(q - t_prev)).clamp(min=0)
    dt_next = torch.where(has_next, t_next - q, torch.zeros_like(q - t_prev)).clamp(min=0)
    span = dt_prev + dt_next
    w = torch.where(span > 0, dt_prev / span.clamp(min=1e-12), torch.zeros_like(span))
    w = w.to(values.dtype)
    weight = observed.to(values.dtype)
    count = weight.sum(dim=1)  # (B, D)
    level = (values * weight).sum(dim=1) / count.clamp(min=1.0)
    both = has_prev & has_next
    anchor = torch.where(both, (1 - w) * v_prev + w * v_next, torch.where(has_prev, v_prev, v_next))
    feats = [  # the order documented above; N_ANCHOR_FEATURES of them
        anchor,
        has_prev.to(values.dtype),
        has_next.to(values.dtype),
        torch.log1p(dt_prev).to(values.dtype),
        torch.log1p(dt_next).to(values.dtype),
        v_prev,
        v_next,
        level.unsqueeze(1).expand_as(anchor),
        torch.log1p(count).unsqueeze(1).expand_as(anchor),
    ]
    feats += _kernel_averages(times, tt, weight, values, level)
    out = torch.stack(feats, dim=-1)
    if out.shape[-1] != N_ANCHOR_FEATURES:
        raise RuntimeError("latentode bug: anchor features and N_ANCHOR_FEATURES disagree.")
    # Other features observed at the query's own time (a step of the context).
    step = at.clamp(min=0).unsqueeze(-1).expand(-1, -1, n_features)
    here = exact.unsqueeze(-1).to(values.dtype)
    seen_now = torch.gather(weight, 1, step) * here  # (B, Q, D)
    value_now = torch.gather(values, 1, step) * seen_now
    others = 1.0 - torch.eye(n_features, device=values.device, dtype=values.dtype)  # (D, D)
    concurrent = torch.cat(
        [value_now.unsqueeze(2) * others, seen_now.unsqueeze(2) * others], dim=-1
    )  # (B, Q, D, 2 D): for feature d, the others' values and indicators
    return torch.cat([out, concurrent], dim=-1)


def _kernel_averages(
    times: torch.Tensor,
    t: torch.Tensor,
    weight: torch.Tensor,
    values: torch.Tensor,
    level: torch.Tensor,
) -> list[torch.Tensor]:
    """Features 9-14: for each bandwidth, the kernel average and ``log1p`` of the kernel mass
    ``(B, Q, D)`` each, at queries ``times`` ``(B, Q)`` from the context's sorted times ``t``
    ``(B, K)`` (``inf`` past each series' length).

    Computed over blocks of queries so the ``(B, block, K)`` kernel matrices stay under
    :data:`KERNEL_BLOCK` elements (memory linear in the length, not quadratic: one batch of
    32 series × 10,000 points once asked for 25 GB here), one feature at a time (no
    ``(B, Q, K, D)`` temporaries).
    Each block and bandwidth ``h`` reads only the context steps within
    :data:`KERNEL_RADIUS` ``· h`` of its queries (a weight below ``e^-32`` is invisible
    beside the average's prior point of weight 1 in float32), so a series much longer
    than the bandwidths costs time linear in its length.
    """
    n_series, n_queries = times.shape
    n_steps = t.shape[1]
    budget = KERNEL_BLOCK_LOW if is_low_memory() else KERNEL_BLOCK
    block = max(1, budget // max(1, n_series * n_steps))
    weighted = weight * values  # (B, K, D)
    # Distances from finite times: padding (inf) at 0 instead, whose weight is 0 anyway, so
    # no (B, q, K) pass replaces infinities (the same sums: a 0 weight times any kernel).
    t_finite = torch.where(torch.isfinite(t), t, torch.zeros_like(t))
    # Written in place: small results kept between the large blocks made glibc's heap
    # grow by the blocks' size at each step (a 2,000-point batch: +1 GB per call).
    out = values.new_empty(2 * len(BANDWIDTHS), n_series, n_queries, values.shape[-1])
    steps = torch.arange(n_steps, device=t.device)
    for start in range(0, n_queries, block):
        stop = min(start + block, n_queries)
        q = times[:, start:stop]
        full_sq: torch.Tensor | None = None  # the whole context's squared distances, once
        for i, h in enumerate(BANDWIDTHS):
            reach = KERNEL_RADIUS * h
            lo = torch.searchsorted(t, q.amin(1, keepdim=True) - reach)  # (B, 1)
            hi = torch.searchsorted(t, q.amax(1, keepdim=True) + reach)
            width = int((hi - lo).max()) if n_steps else 0
            if width < n_steps // 2:  # a window: the steps lo .. lo + width of each series
                window = lo + steps[:width]  # (B, W)
                index = window.clamp(max=max(n_steps - 1, 0))
                inside = (window < hi).unsqueeze(-1).to(values.dtype)
                gather = index.unsqueeze(-1).expand(-1, -1, values.shape[-1])
                sq = _squared_distances(q, torch.gather(t_finite, 1, index), values.dtype)
                w_w = torch.gather(weight, 1, gather) * inside
                wv_w = torch.gather(weighted, 1, gather) * inside
            else:
                if full_sq is None:
                    full_sq = _squared_distances(q, t_finite, values.dtype)
                sq, w_w, wv_w = full_sq, weight, weighted
            kernel = torch.exp(sq * (-0.5 / h**2))  # padding: weight 0 whatever its kernel
            # Sums over the context's steps, one feature at a time, as products reduced
            # over the last dimension (the same bits on 1 or N threads, unlike a batched
            # matrix product, whose BLAS may split the sums by thread count).
            for d in range(values.shape[-1]):
                total = (kernel * w_w[:, :, d].unsqueeze(1)).sum(-1)  # (B, q)
                local = (kernel * wv_w[:, :, d].unsqueeze(1)).sum(-1) + level[:, d : d + 1]
                out[2 * i, :, start:stop, d] = local / (total + 1.0)  # one prior point
                out[2 * i + 1, :, start:stop, d] = torch.log1p(total)
    return list(out.unbind(0))


def _squared_distances(q: torch.Tensor, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``(q_i - t_k)²`` ``(B, q, K)`` in ``dtype`` from finite times."""
    return (q.unsqueeze(-1) - t.unsqueeze(1)).to(dtype).square()


def _gather_steps(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values[b, index[b, q, d], d]`` → ``(B, Q, D)``."""
    return torch.gather(values, 1, index)


def _gather_times(times: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``times[b, index[b, q, d]]`` → ``(B, Q, D)``."""
    n_features = index.shape[-1]
    return torch.gather(times.unsqueeze(-1).expand(-1, -1, n_features), 1, index)
