"""Tensor views of an :class:`~latentode.data.IrregularDataset` for training and inference."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from latentode.batch import IrregularBatch
from latentode.data import IrregularDataset, collate
from latentode.exceptions import MaxStepsExceededError

__all__ = ["PaddedSeries", "pad_queries"]


class PaddedSeries:
    """All series of a dataset padded once, on one device; batches are trimmed slices.

    ``time_scale`` multiplies the (already normalised) times: the solver's time unit.
    ``full`` is the whole padded :class:`~latentode.batch.IrregularBatch`; ``static``
    ``(n_series, n_static)`` are the series' (scaled) static covariates, if any.
    """

    def __init__(
        self,
        dataset: IrregularDataset,
        device: torch.device,
        time_scale: float = 1.0,
        static: np.ndarray | None = None,
    ) -> None:
        full = collate(list(dataset), device=device).scale_time(time_scale)
        if static is not None:
            full = dataclasses.replace(full, static=torch.as_tensor(static, device=device))
        self.full = full

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
        """Consecutive ``(index, batch)`` pairs of at most ``size`` series."""
        for index in self.batches(size):
            yield index, self.batch(index)

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, shuffle: bool = False
    ) -> Iterator[torch.Tensor]:
        """Index tensors of consecutive (or shuffled) batches."""
        n = len(self)
        if shuffle:
            order = torch.randperm(n, generator=generator, device="cpu")
        else:
            order = torch.arange(n)
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]


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
