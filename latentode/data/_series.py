"""Per-series containers: :class:`Series` and :class:`IrregularDataset`."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["IrregularDataset", "Series"]


@dataclass(frozen=True, eq=False)
class Series:
    """One irregularly sampled series, ready for a model.

    Attributes
    ----------
    id : Hashable
        The series id as found in the id column.
    times : numpy.ndarray of shape (n_times,), float64
        Normalised, strictly increasing times.
    values : numpy.ndarray of shape (n_times, n_features), float32
        Scaled values; unobserved entries are 0.0.
    mask : numpy.ndarray of shape (n_times, n_features), bool
        True where the entry was observed.

    Raises
    ------
    ValueError
        If the shapes disagree or the times are not strictly increasing.
    """

    id: Hashable
    times: np.ndarray
    values: np.ndarray
    mask: np.ndarray

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=np.float64)
        values = np.asarray(self.values, dtype=np.float32)
        mask = np.asarray(self.mask, dtype=bool)
        if times.ndim != 1 or values.ndim != 2 or mask.shape != values.shape:
            raise ValueError(
                f"Series {self.id!r}: expected times (K,), values (K, D) and mask (K, D); "
                f"got {times.shape}, {values.shape} and {mask.shape}."
            )
        if values.shape[0] != times.shape[0]:
            raise ValueError(
                f"Series {self.id!r}: expected one row of values per time; "
                f"got {times.shape[0]} times and {values.shape[0]} rows."
            )
        if times.size > 1 and not (np.diff(times) > 0).all():
            raise ValueError(
                f"Series {self.id!r}: expected strictly increasing times; "
                "got repeated or decreasing times. Sort and de-duplicate them first."
            )
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "mask", mask)

    def __len__(self) -> int:
        return int(self.times.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features D."""
        return int(self.values.shape[1])

    @property
    def last_time(self) -> float:
        """Last normalised time (NaN for an empty series)."""
        return float(self.times[-1]) if self.times.size else float("nan")


class IrregularDataset:
    """An ordered collection of :class:`Series` sharing the same features.

    Parameters
    ----------
    series : sequence of Series
        The series, in order.
    n_features : int or None, default None
        Number of features; inferred from the first series when None (required for an
        empty dataset).

    Raises
    ------
    ValueError
        If the series disagree on the number of features.

    Notes
    -----
    Ids may repeat (e.g. after ``subset([0, 0])``); :meth:`LongFrameEncoder.transform`
    always produces distinct ids.
    """

    def __init__(self, series: Sequence[Series], n_features: int | None = None) -> None:
        self._series: tuple[Series, ...] = tuple(series)
        if n_features is None:
            if not self._series:
                raise ValueError("An empty IrregularDataset needs an explicit n_features.")
            n_features = self._series[0].n_features
        bad = [s.id for s in self._series if s.n_features != n_features]
        if bad:
            raise ValueError(
                f"Expected {n_features} features in every series; got a different number in "
                f"{len(bad)} series, e.g. {bad[:5]!r}."
            )
        self._n_features = int(n_features)
        self._ids = [s.id for s in self._series]

    def __len__(self) -> int:
        return len(self._series)

    def __getitem__(self, index: int) -> Series:
        return self._series[index]

    def __iter__(self) -> Iterator[Series]:
        return iter(self._series)

    def __repr__(self) -> str:
        return (
            f"IrregularDataset(n_series={len(self)}, n_features={self.n_features}, "
            f"n_observations={self.n_observations})"
        )

    @property
    def ids(self) -> list[Hashable]:
        """Series ids, in dataset order."""
        return list(self._ids)

    @property
    def n_features(self) -> int:
        """Number of features D."""
        return self._n_features

    @property
    def n_observations(self) -> int:
        """Number of observed entries (``mask.sum()`` over all series)."""
        return int(sum(int(s.mask.sum()) for s in self._series))

    @property
    def lengths(self) -> np.ndarray:
        """Number of time points of each series, shape (n_series,)."""
        return np.fromiter((len(s) for s in self._series), dtype=np.int64, count=len(self))

    def subset(self, indices: Sequence[int] | np.ndarray) -> IrregularDataset:
        """Return the dataset restricted to ``indices`` (in that order).

        Parameters
        ----------
        indices : sequence of int or integer / boolean numpy.ndarray
            Positions of the series to keep.

        Returns
        -------
        IrregularDataset
        """
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise IndexError(
                    f"Expected a boolean mask of length {len(self)}; got shape {idx.shape}."
                )
            idx = np.flatnonzero(idx)
        return IrregularDataset(
            [self._series[int(i)] for i in idx.reshape(-1)], n_features=self._n_features
        )
