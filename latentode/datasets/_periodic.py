"""The Latent ODE paper's periodic toy data set: :func:`make_periodic`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from latentode.datasets._checks import (
    RandomStateLike,
    check_fraction,
    check_int,
    check_positive_float,
    check_random_state,
    long_frame,
    observed_indices,
    series_ids,
)
from latentode.exceptions import ParameterError

__all__ = ["make_periodic"]

_OWNER = "make_periodic"


def make_periodic(
    n_series: int = 1000,
    n_points: int = 100,
    *,
    t_max: float = 5.0,
    freq_range: tuple[float, float] = (0.4, 0.8),
    noise: float = 0.01,
    observed_fraction: float = 1.0,
    shared_grid: bool = True,
    random_state: RandomStateLike = None,
    return_params: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Noisy sine waves on irregular time grids (Rubanova et al., 2019, "toy dataset").

    Each series is ``y(t) = sin(2π f t) + c + noise · u`` with one frequency
    ``f ~ U[freq_range]`` and offset ``c = 1 + 0.1 · N(0, 1)`` per series and
    ``u ~ U[0, 1)`` per point. The time grid is ``0`` followed by ``n_points - 1`` sorted
    draws from ``U[0, t_max]``, shared by every series (as in the paper) unless
    ``shared_grid=False``.

    Parameters
    ----------
    n_series : int, default 1000
        Number of series.
    n_points : int, default 100
        Points of the time grid (>= 2).
    t_max : float, default 5.0
        End of the time window.
    freq_range : (float, float), default (0.4, 0.8)
        Range of the uniform frequency distribution (cycles per time unit).
    noise : float, default 0.01
        Amplitude of the additive uniform noise (>= 0).
    observed_fraction : float, default 1.0
        In (0, 1]: each series keeps a random, sorted subset of
        ``max(2, round(observed_fraction * n_points))`` grid points.
    shared_grid : bool, default True
        One grid for all series (True) or one grid per series (False).
    random_state : int, numpy.random.Generator or None, default None
        Seed; the output is deterministic given an int or a seeded Generator.
    return_params : bool, default False
        Also return a frame of per-series parameters (``unique_id, f, c``).

    Returns
    -------
    df : pandas.DataFrame
        Long frame with columns ``unique_id`` (``"s0000"``, ...), ``ds`` (float) and ``y``.
    params : pandas.DataFrame
        Only when ``return_params`` is True.

    Raises
    ------
    ParameterError
        If an argument is out of range.

    References
    ----------
    Y. Rubanova, R. T. Q. Chen, D. Duvenaud. "Latent ODEs for Irregularly-Sampled Time
    Series", NeurIPS 2019, section 4.1.

    Examples
    --------
    >>> df = make_periodic(n_series=3, n_points=10, random_state=0)
    >>> df.shape
    (30, 3)
    """
    n_series = check_int(n_series, "n_series", _OWNER, 1)
    n_points = check_int(n_points, "n_points", _OWNER, 2)
    t_max = check_positive_float(t_max, "t_max", _OWNER)
    noise = check_positive_float(noise, "noise", _OWNER, allow_zero=True)
    observed_fraction = check_fraction(observed_fraction, "observed_fraction", _OWNER)
    lo, hi = _check_range(freq_range)
    rng = check_random_state(random_state, _OWNER)

    freq = rng.uniform(lo, hi, size=n_series)
    offset = 1.0 + 0.1 * rng.standard_normal(n_series)
    n_grids = 1 if shared_grid else n_series
    draws = np.sort(rng.uniform(0.0, t_max, size=(n_grids, n_points - 1)), axis=1)
    grid = np.concatenate([np.zeros((n_grids, 1)), draws], axis=1)
    times = np.broadcast_to(grid, (n_series, n_points))
    y = np.sin(2.0 * np.pi * freq[:, None] * times) + offset[:, None]
    y = y + noise * rng.random((n_series, n_points))
    keep = observed_indices(rng, n_series, n_points, observed_fraction)
    times = np.take_along_axis(times, keep, axis=1)
    y = np.take_along_axis(y, keep, axis=1)

    ids = series_ids(n_series)
    df = long_frame(ids, times, y[..., None], ("y",))
    if not return_params:
        return df
    params = pd.DataFrame({"unique_id": ids, "f": freq, "c": offset})
    params["unique_id"] = params["unique_id"].astype("str")
    return df, params


def _check_range(freq_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in freq_range)
    except (TypeError, ValueError):
        lo, hi = float("nan"), float("nan")
    if not (np.isfinite(lo) and np.isfinite(hi) and 0.0 < lo <= hi):
        raise ParameterError(
            f"The 'freq_range' parameter of {_OWNER} must be a pair (low, high) of floats "
            f"with 0 < low <= high. Got {freq_range!r} instead."
        )
    return lo, hi
