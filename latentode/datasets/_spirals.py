"""Clockwise / counter-clockwise 2-D spirals of the Neural ODE latent-ODE demo."""

from __future__ import annotations

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

__all__ = ["make_spirals"]

_OWNER = "make_spirals"
_STOP = 6.0 * np.pi  # the demo's `stop`
_A, _B = 0.0, 0.3  # the demo's spiral parameters `a`, `b`


def make_spirals(
    n_series: int = 100,
    n_points: int = 100,
    *,
    noise: float = 0.1,
    observed_fraction: float = 1.0,
    random_state: RandomStateLike = None,
    return_params: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Noisy pieces of two 2-D spirals, as in torchdiffeq's ``examples/latent_ode.py``.

    Following ``generate_spiral2d(start=0, stop=6π, a=0, b=0.3)`` of the Neural ODE
    paper's latent-ODE demo, two reference curves are sampled at
    ``n_total = 5 · n_points`` equally spaced parameters ``s`` in ``[0, 6π]``:

    * counter-clockwise, an Archimedean spiral ``r = a + b s`` at angle ``s``, centred at
      ``(+5, 0)``;
    * clockwise, the demo's ``r = a + 50 b / z`` at angle ``z = 6π + 1 - s``, centred at
      ``(-5, 0)``.

    Each series picks a direction with probability 1/2 and a random start index in
    ``[n_points, n_total - n_points)``, takes the next ``n_points`` points of that curve
    and adds Gaussian noise of standard deviation ``noise``. Its times are the first
    ``n_points`` parameters, ``ds = s[:n_points]`` (starting at 0, as in the demo).

    Parameters
    ----------
    n_series : int, default 100
        Number of spirals.
    n_points : int, default 100
        Points per spiral before subsampling (>= 2).
    noise : float, default 0.1
        Standard deviation of the Gaussian observation noise (the demo uses 0.3).
    observed_fraction : float, default 1.0
        In (0, 1]: each series keeps a random, sorted subset of
        ``max(2, round(observed_fraction * n_points))`` points.
    random_state : int, numpy.random.Generator or None, default None
        Seed; the output is deterministic given an int or a seeded Generator.
    return_params : bool, default False
        Also return ``unique_id, direction ("cw" | "ccw"), start`` (the start index on the
        reference curve).

    Returns
    -------
    df : pandas.DataFrame
        Long frame ``unique_id, ds, x, y``.
    params : pandas.DataFrame
        Only when ``return_params`` is True.

    Raises
    ------
    ParameterError
        If an argument is out of range.

    References
    ----------
    R. T. Q. Chen, Y. Rubanova, J. Bettencourt, D. Duvenaud. "Neural Ordinary Differential
    Equations", NeurIPS 2018 (demo: github.com/rtqichen/torchdiffeq, examples/latent_ode.py).
    """
    n_series = check_int(n_series, "n_series", _OWNER, 1)
    n_points = check_int(n_points, "n_points", _OWNER, 2)
    noise = check_positive_float(noise, "noise", _OWNER, allow_zero=True)
    observed_fraction = check_fraction(observed_fraction, "observed_fraction", _OWNER)
    rng = check_random_state(random_state, _OWNER)

    n_total = 5 * n_points
    s = np.linspace(0.0, _STOP, n_total)
    z_cw = _STOP + 1.0 - s
    r_cw = _A + _B * 50.0 / z_cw
    cw = np.stack([r_cw * np.cos(z_cw) - 5.0, r_cw * np.sin(z_cw)], axis=1)
    r_cc = _A + _B * s
    ccw = np.stack([r_cc * np.cos(s) + 5.0, r_cc * np.sin(s)], axis=1)

    start = rng.integers(n_points, n_total - n_points, size=n_series)
    counter = rng.random(n_series) > 0.5
    window = start[:, None] + np.arange(n_points)[None, :]
    traj = np.where(counter[:, None, None], ccw[window], cw[window])
    traj = traj + noise * rng.standard_normal(traj.shape)
    keep = observed_indices(rng, n_series, n_points, observed_fraction)
    times = s[:n_points][keep]
    values = np.take_along_axis(traj, keep[..., None], axis=1)

    ids = series_ids(n_series)
    df = long_frame(ids, times, values, ("x", "y"))
    if not return_params:
        return df
    params = pd.DataFrame(
        {"unique_id": ids, "direction": np.where(counter, "ccw", "cw"), "start": start}
    )
    params = params.astype({"unique_id": "str", "direction": "str"})
    return df, params
