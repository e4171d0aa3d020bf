"""``IrregularBatch``: the padded batch of irregular series that every layer passes around.

It sits below both the data layer (which builds batches from frames) and the torch layers
(``nn``, ``models``, which consume them), so neither has to import the other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence

import torch

__all__ = ["IrregularBatch"]


@dataclasses.dataclass(frozen=True)
class IrregularBatch:
    """A padded batch of irregularly sampled series.

    Attributes
    ----------
    times : torch.Tensor of shape (n_series, max_len), float64
        Times; padding repeats the series' last time (0.0 for an empty series), so every
        row is non-decreasing.
    values : torch.Tensor of shape (n_series, max_len, n_features), float32
        Scaled values; 0.0 where unobserved and in the padding.
    mask : torch.Tensor of shape (n_series, max_len, n_features), float32
        1.0 where observed, 0.0 where unobserved and in the padding.
    lengths : torch.Tensor of shape (n_series,), long
        Number of real time points of each series.
    ids : list
        Series ids, in batch order (empty when the batch was made from bare tensors).
    static : torch.Tensor of shape (n_series, n_static), float32, or None
        Per-series static covariates (None when there are none).
    cov_times : torch.Tensor of shape (n_series, n_knots), float64, or None
        Known time-varying covariates: the times at which each series' covariate path
        changes (padding repeats the last time). The path is piecewise constant, each value
        holding from its time to the next (the first also before it, the last after it).
        It belongs to the whole series: a context (:meth:`with_steps`) keeps it, so the
        decoder knows the covariates beyond what the encoder is shown.
    cov_values : torch.Tensor of shape (n_series, n_knots, n_covariates), float32, or None
        The path's (scaled) values from each knot on; padding repeats the last value.
    """

    times: torch.Tensor
    values: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    ids: Sequence[Hashable] = ()
    static: torch.Tensor | None = None
    cov_times: torch.Tensor | None = None
    cov_values: torch.Tensor | None = None

    @property
    def n_series(self) -> int:
        """Batch size B."""
        return int(self.times.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns D."""
        return int(self.values.shape[-1])

    @property
    def device(self) -> torch.device:
        """Device of the tensors."""
        return self.values.device

    def to(self, device: torch.device | str) -> IrregularBatch:
        """A copy of the batch with every tensor on ``device``."""
        return dataclasses.replace(
            self,
            times=self.times.to(device),
            values=self.values.to(device),
            mask=self.mask.to(device),
            lengths=self.lengths.to(device),
            static=None if self.static is None else self.static.to(device),
            cov_times=None if self.cov_times is None else self.cov_times.to(device),
            cov_values=None if self.cov_values is None else self.cov_values.to(device),
            ids=list(self.ids),
        )

    def select(self, index: torch.Tensor) -> IrregularBatch:
        """The series at ``index`` (a long tensor), trimmed to their longest length."""
        index = index.to(self.times.device)
        lengths = self.lengths.index_select(0, index)
        k = int(lengths.max().item()) if len(index) else 0
        ids = [self.ids[i] for i in index.tolist()] if len(self.ids) else ()
        return IrregularBatch(
            times=self.times.index_select(0, index)[:, :k],
            values=self.values.index_select(0, index)[:, :k],
            mask=self.mask.index_select(0, index)[:, :k],
            lengths=lengths,
            ids=ids,
            static=None if self.static is None else self.static.index_select(0, index),
            cov_times=None if self.cov_times is None else self.cov_times.index_select(0, index),
            cov_values=None if self.cov_values is None else self.cov_values.index_select(0, index),
        )

    def with_steps(
        self, times: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor
    ) -> IrregularBatch:
        """The same series (ids, static and time-varying covariates) with other time steps
        (a context)."""
        return dataclasses.replace(self, times=times, values=values, mask=mask, lengths=lengths)

    def scale_time(self, factor: float) -> IrregularBatch:
        """The batch with times (and covariate knots) multiplied by ``factor`` (into the
        solver's time unit)."""
        knots = None if self.cov_times is None else self.cov_times * factor
        return dataclasses.replace(self, times=self.times * factor, cov_times=knots)
