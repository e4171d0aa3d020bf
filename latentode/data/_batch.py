"""Padding a list of series into one batch of tensors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from latentode.batch import IrregularBatch
from latentode.data._series import Series

__all__ = ["IrregularBatch", "collate"]


def collate(series: Sequence[Series], device: torch.device | str | None = None) -> IrregularBatch:
    """Pad series to a common length and stack them into tensors.

    Parameters
    ----------
    series : sequence of Series
        At least one series; all must have the same number of features.
    device : torch.device, str or None, default None
        Device of the returned tensors (None keeps them on the CPU).

    Returns
    -------
    IrregularBatch
        ``times`` (B, K_max) float64, ``values`` and ``mask`` (B, K_max, D) float32,
        ``lengths`` (B,) long.

    Raises
    ------
    ValueError
        If ``series`` is empty or the series disagree on the number of features.
    """
    if len(series) == 0:
        raise ValueError("Expected at least one series to collate; got 0.")
    n_features = series[0].n_features
    bad = [s.id for s in series if s.n_features != n_features]
    if bad:
        raise ValueError(
            f"Expected {n_features} features in every series; got a different number in "
            f"{len(bad)} series, e.g. {bad[:5]!r}."
        )
    lengths = np.fromiter((len(s) for s in series), dtype=np.int64, count=len(series))
    n, k_max = len(series), int(lengths.max())
    times = np.zeros((n, k_max), dtype=np.float64)
    values = np.zeros((n, k_max, n_features), dtype=np.float32)
    mask = np.zeros((n, k_max, n_features), dtype=np.float32)
    for i, s in enumerate(series):
        k = lengths[i]
        if k == 0:
            continue
        times[i, :k] = s.times
        times[i, k:] = s.times[-1]
        values[i, :k] = s.values
        mask[i, :k] = s.mask
    batch = IrregularBatch(
        times=torch.from_numpy(times),
        values=torch.from_numpy(values),
        mask=torch.from_numpy(mask),
        lengths=torch.from_numpy(lengths),
        ids=[s.id for s in series],
    )
    return batch if device is None else batch.to(device)
