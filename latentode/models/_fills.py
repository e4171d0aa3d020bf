"""Interpolated states of partially observed series (initial shooting nodes and guesses)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["fill_missing", "padded_fills"]


def fill_missing(times: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Linearly interpolate unobserved entries of one series (constant beyond the ends).

    Parameters
    ----------
    times : ndarray of shape (K,)
    values, mask : ndarray of shape (K, D)
        A feature never observed in the series becomes 0 (the scaled mean).

    Returns
    -------
    ndarray of shape (K, D), float32
    """
    out = np.array(values, dtype=np.float64, copy=True)
    for d in range(values.shape[1]):
        seen = mask[:, d].astype(bool)
        if seen.all():
            continue
        out[:, d] = np.interp(times, times[seen], values[seen, d]) if seen.any() else 0.0
    return out.astype(np.float32)


def padded_fills(
    series: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], device: torch.device
) -> torch.Tensor:
    """:func:`fill_missing` of each ``(times, values, mask)``, zero-padded to ``(N, K, D)``."""
    n_times = max(len(t) for t, _, _ in series)
    n_features = series[0][1].shape[1]
    out = np.zeros((len(series), n_times, n_features), dtype=np.float32)
    for i, (t, v, m) in enumerate(series):
        out[i, : len(t)] = fill_missing(t, v, m)
    return torch.as_tensor(out, device=device)
