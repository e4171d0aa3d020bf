"""Choosing which observations the encoder sees during training."""

from __future__ import annotations

import dataclasses

import torch

from latentode.batch import IrregularBatch

__all__ = [
    "ContextConfig",
    "compact_rows",
    "context_of",
    "random_context",
    "sample_context",
    "sample_seen",
]


@dataclasses.dataclass(frozen=True)
class ContextConfig:
    """How training picks the encoder's observations (see :func:`sample_context`);
    ``value_dropout`` also hides single values of the kept steps."""

    extrap_prob: float = 0.5
    min_prefix: float = 0.3
    dropout: float = 0.5
    value_dropout: float = 0.0


def sample_seen(
    batch: IrregularBatch, config: ContextConfig, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The steps the encoder keeps ``(B, K)`` and the values it sees ``(B, K, D)``.

    Steps are picked by :func:`sample_context`; with ``value_dropout`` each value of a kept
    step is then hidden with that probability (as single missing values are in use).
    """
    keep = sample_context(
        batch.times,
        batch.lengths,
        extrap_prob=config.extrap_prob,
        min_prefix=config.min_prefix,
        dropout=config.dropout,
        generator=generator,
    )
    seen = keep.unsqueeze(-1).expand_as(batch.mask)
    if config.value_dropout > 0:
        u = torch.rand(batch.mask.shape, generator=generator, device=batch.mask.device)
        seen = seen & (u >= config.value_dropout)
    return keep, seen


def random_context(
    batch: IrregularBatch, config: ContextConfig, generator: torch.Generator | None
) -> IrregularBatch:
    """The context a training step encodes: a random subset (or prefix) of ``batch``'s rows."""
    keep, seen = sample_seen(batch, config, generator)
    return context_of(batch, keep, seen)


def context_of(batch: IrregularBatch, keep: torch.Tensor, seen: torch.Tensor) -> IrregularBatch:
    """The context of ``batch`` that keeps the steps ``keep`` and shows the values ``seen``."""
    if bool(seen.all()):
        return compact_rows(keep, batch)
    shown = seen.to(batch.mask.dtype)
    return compact_rows(
        keep, batch.with_steps(batch.times, batch.values * shown, batch.mask * shown, batch.lengths)
    )


def compact_rows(keep: torch.Tensor, batch: IrregularBatch) -> IrregularBatch:
    """Move the kept steps of each row to the front, preserving their order.

    Parameters
    ----------
    keep : bool Tensor of shape (B, K)
        Steps to keep (at least one per row).
    batch : IrregularBatch
        ``times (B, K)``; ``values``, ``mask`` ``(B, K, D)``.

    Returns
    -------
    IrregularBatch
        The same series compacted to ``K' = max(lengths)`` steps; padding repeats a row's
        last kept time and has zero values and mask.
    """
    times, values, mask = batch.times, batch.values, batch.mask
    lengths = keep.sum(1)
    n_steps = int(lengths.max().item())
    steps = torch.arange(keep.shape[1], device=keep.device)
    # Kept steps first (in order), dropped ones after: sort on (not keep, position).
    order = torch.argsort((~keep).long() * keep.shape[1] + steps, dim=1)[:, :n_steps]
    valid = torch.arange(n_steps, device=keep.device).unsqueeze(0) < lengths.unsqueeze(1)
    t = torch.gather(times, 1, order)
    last = torch.gather(t, 1, (lengths - 1).clamp(min=0).unsqueeze(1))
    t = torch.where(valid, t, last)
    idx = order.unsqueeze(-1).expand(-1, -1, values.shape[-1])
    v = torch.gather(values, 1, idx) * valid.unsqueeze(-1)
    m = torch.gather(mask, 1, idx) * valid.unsqueeze(-1)
    return batch.with_steps(t, v, m, lengths)


def sample_context(
    times: torch.Tensor,
    lengths: torch.Tensor,
    *,
    extrap_prob: float,
    min_prefix: float,
    dropout: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pick the encoder's observations for each training series.

    With probability ``extrap_prob`` a series shows only a prefix: its observations up to a
    cut placed uniformly in ``[min_prefix, 1]`` of its time span (so the model learns to
    extrapolate); otherwise each observation is dropped with probability ``dropout`` (so
    it learns to interpolate points it has not seen, including ones before the first it
    sees). Every series keeps at least one observation. Returns a bool mask ``(B, K)``.
    """
    n_series, n_steps = times.shape
    device = times.device
    u = torch.rand(n_series, generator=generator, device=device)
    cut_frac = min_prefix + (1.0 - min_prefix) * torch.rand(
        n_series, generator=generator, device=device
    )
    start = times[:, 0]
    end = torch.gather(times, 1, (lengths - 1).unsqueeze(1)).squeeze(1)
    cut = start + cut_frac.to(times.dtype) * (end - start)
    valid = torch.arange(n_steps, device=device).unsqueeze(0) < lengths.unsqueeze(1)
    prefix = times <= cut.unsqueeze(1)
    kept = torch.rand(n_series, n_steps, generator=generator, device=device) >= dropout
    keep = torch.where((u < extrap_prob).unsqueeze(1), prefix, kept) & valid
    # The first observation may be hidden too, so the model also learns to answer queries
    # before the first observation it sees; a series left with none keeps its first.
    keep[:, 0] |= ~keep.any(dim=1)
    return keep
