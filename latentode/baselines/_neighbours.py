"""Per-feature nearest observations around query times (the baselines' common features)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Neighbours", "neighbours"]


@dataclass(frozen=True)
class Neighbours:
    """Observations of each feature around ``k`` query times, arrays of shape ``(k, D)``.

    ``prev_value`` / ``prev_gap``: the last observation at or before the query and the time
    since it; ``next_value`` / ``next_gap``: the first one at or after it and the time to
    it; ``interp``: linear interpolation (flat beyond the ends); ``mean`` / ``count``: the
    series' observed mean and number of observations. NaN (``count`` 0) where a feature
    has no such observation.
    """

    prev_value: np.ndarray
    prev_gap: np.ndarray
    next_value: np.ndarray
    next_gap: np.ndarray
    interp: np.ndarray
    mean: np.ndarray
    count: np.ndarray


def neighbours(
    times: np.ndarray, values: np.ndarray, mask: np.ndarray, q: np.ndarray
) -> Neighbours:
    """Neighbours of the query times ``q (k,)`` in a history ``times (n,)``,
    ``values (n, D)``, ``mask (n, D)``."""
    q = np.asarray(q, dtype=np.float64)
    k, n_feat = q.shape[0], values.shape[1]
    out = {
        name: np.full((k, n_feat), np.nan)
        for name in ("prev_value", "prev_gap", "next_value", "next_gap", "interp", "mean")
    }
    count = np.zeros((k, n_feat))
    for d in range(n_feat):
        obs = mask[:, d]
        td = times[obs]
        vd = values[obs, d].astype(np.float64)
        if td.size == 0:
            continue
        p = np.searchsorted(td, q, side="right") - 1
        nx = np.searchsorted(td, q, side="left")
        has_p, has_n = p >= 0, nx < td.size
        out["prev_value"][has_p, d] = vd[p[has_p]]
        out["prev_gap"][has_p, d] = q[has_p] - td[p[has_p]]
        out["next_value"][has_n, d] = vd[nx[has_n]]
        out["next_gap"][has_n, d] = td[nx[has_n]] - q[has_n]
        out["interp"][:, d] = np.interp(q, td, vd)
        out["mean"][:, d] = vd.mean()
        count[:, d] = td.size
    return Neighbours(count=count, **out)
