"""Tensor views of an :class:`~latentode.data.IrregularDataset` for training and inference."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from latentode.batch import IrregularBatch
from latentode.data import CovariatePath, IrregularDataset, collate
from latentode.exceptions import MaxStepsExceededError

__all__ = ["LENGTH_QUANTILE", "PaddedSeries", "pad_paths", "pad_queries"]

#: The quantile of the series' lengths that, times the batch size, caps a batch's padded size.
LENGTH_QUANTILE = 0.9


class PaddedSeries:
    """All series of a dataset padded once, on one device; batches are trimmed slices.

    ``time_scale`` multiplies the (already normalised) times: the solver's time unit.
    ``full`` is the whole padded :class:`~latentode.batch.IrregularBatch`; ``static``
    ``(n_series, n_static)`` are the series' (scaled) static covariates, if any;
    ``covariates`` their known time-varying covariate paths, if any (one per series).

    Batches are padded to their longest series, so one long series among short ones would
    make its batch cost (and hold in memory) its length for every row. :meth:`batches`
    and :meth:`chunks` therefore cap the padded size of a batch at ``size ×`` the 90th
    percentile of the series' lengths (:data:`LENGTH_QUANTILE`): a batch over the cap is
    split into consecutive parts under it (a series longer than the cap is a batch of its
    own). Where lengths are even — most data — no batch is split and batches are exactly
    the ``size``-series slices.
    """

    def __init__(
        self,
        dataset: IrregularDataset,
        device: torch.device,
        time_scale: float = 1.0,
        static: np.ndarray | None = None,
        covariates: Sequence[CovariatePath] | None = None,
    ) -> None:
        full = collate(list(dataset), device=device)
        if static is not None:
            full = dataclasses.replace(full, static=torch.as_tensor(static, device=device))
        if covariates is not None:
            knots, values = pad_paths(covariates, device)
            full = dataclasses.replace(full, cov_times=knots, cov_values=values)
        full = full.scale_time(time_scale)
        self.full = full
        lengths = full.lengths.cpu().numpy()
        self._lengths: list[int] = [int(n) for n in lengths]
        self._ref_length = (
            max(1, int(np.ceil(np.quantile(lengths, LENGTH_QUANTILE)))) if len(lengths) else 1
        )

    @contextlib.contextmanager
    def naming(self, index: torch.Tensor) -> Iterator[None]:
        """Re-raise a solver's step-budget error for batch ``index`` with the series id."""
        try:
            yield
        except MaxStepsExceededError as exc:
            if exc.row is None:
                raise
            series = self.full.ids[int(index[exc.row])]
            raise MaxStepsExceededError(f"Series {series!r}: {exc}", row=None) from exc

    @property
    def times(self) -> torch.Tensor:
        return self.full.times

    @property
    def values(self) -> torch.Tensor:
        return self.full.values

    @property
    def mask(self) -> torch.Tensor:
        return self.full.mask

    @property
    def lengths(self) -> torch.Tensor:
        return self.full.lengths

    @property
    def ids(self) -> list[Any]:
        return list(self.full.ids)

    def __len__(self) -> int:
        return self.full.n_series

    def batch(self, index: torch.Tensor | Sequence[int]) -> IrregularBatch:
        """The series at ``index``, trimmed to their longest length."""
        return self.full.select(torch.as_tensor(index, dtype=torch.long))

    def chunks(self, size: int) -> Iterator[tuple[torch.Tensor, IrregularBatch]]:
        """Consecutive ``(index, batch)`` pairs of at most ``size`` series (and at most the
        padded size of ``size`` series of typical length, see the class notes)."""
        for index in self.batches(size):
            yield index, self.batch(index)

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, shuffle: bool = False
    ) -> Iterator[torch.Tensor]:
        """Index tensors of consecutive (or shuffled) batches of at most ``batch_size``
        series, each under the padded-size cap (see the class notes)."""
        n = len(self)
        if shuffle:
            order = torch.randperm(n, generator=generator, device="cpu")
        else:
            order = torch.arange(n)
        for start in range(0, n, batch_size):
            yield from self._under_cap(order[start : start + batch_size], batch_size)

    def _under_cap(self, index: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
        """``index`` itself, or consecutive parts of it whose padded size (series × the
        longest length) stays within ``size ×`` the reference length."""
        cap = size * self._ref_length
        lengths = [self._lengths[i] for i in index.tolist()]
        if len(lengths) * max(lengths, default=0) <= cap:
            yield index
            return
        first, longest = 0, 0
        for k, n in enumerate(lengths):
            if k > first and (k - first + 1) * max(longest, n) > cap:
                yield index[first:k]
                first, longest = k, 0
            longest = max(longest, n)
        yield index[first:]


def pad_queries(
    queries: Sequence[np.ndarray], fallback: torch.Tensor, device: torch.device
) -> tuple[torch.Tensor, np.ndarray]:
    """Pad per-series query times to ``(B, Q_max)`` float64 by repeating each row's last time.

    Rows with no query use ``fallback[b]`` (their outputs are discarded). Returns the padded
    tensor and the query counts.
    """
    counts = np.array([len(q) for q in queries], dtype=np.int64)
    width = max(int(counts.max(initial=0)), 1)
    out = np.empty((len(queries), width), dtype=np.float64)
    fb = fallback.detach().cpu().numpy()
    for i, q in enumerate(queries):
        if len(q):
            out[i, : len(q)] = q
            out[i, len(q) :] = q[-1]
        else:
            out[i] = fb[i]
    return torch.as_tensor(out, device=device), counts


def pad_paths(
    paths: Sequence[CovariatePath], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Covariate paths padded to ``(B, K_max)`` float64 knots and ``(B, K_max, C)`` float32
    values, each row's last knot and value repeated (so the path holds its last value)."""
    width = max((len(p.times) for p in paths), default=1)
    n_cov = paths[0].values.shape[1] if paths else 0
    knots = np.empty((len(paths), width), dtype=np.float64)
    values = np.empty((len(paths), width, n_cov), dtype=np.float32)
    for i, p in enumerate(paths):
        k = len(p.times)
        knots[i, :k], knots[i, k:] = p.times, p.times[-1]
        values[i, :k], values[i, k:] = p.values, p.values[-1]
    return torch.as_tensor(knots, device=device), torch.as_tensor(values, device=device)
