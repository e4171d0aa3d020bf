"""Predator-prey trajectories: :func:`make_lotka_volterra`."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from latentode.datasets._checks import (
    RandomStateLike,
    check_int,
    check_positive_float,
    check_random_state,
    long_frame,
    series_ids,
)
from latentode.datasets._systems import DynamicalSystem, lotka_volterra
from latentode.exceptions import ParameterError

__all__ = ["make_lotka_volterra"]

_OWNER = "make_lotka_volterra"


def make_lotka_volterra(
    n_series: int = 100,
    n_points: int = 50,
    *,
    t_max: float = 15.0,
    alpha: float = 1.5,
    beta: float = 1.0,
    gamma: float = 3.0,
    delta: float = 1.0,
    noise: float = 0.05,
    noise_type: Literal["multiplicative", "additive"] = "multiplicative",
    grid_size: int | None = None,
    random_state: RandomStateLike = None,
    return_params: bool = False,
    return_system: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame | DynamicalSystem, ...]:
    """Irregularly observed Lotka-Volterra predator-prey populations.

    ``dprey/dt = α prey − β prey · predator`` and
    ``dpredator/dt = δ prey · predator − γ predator``, with the classic parameters
    ``α = 1.5, β = 1, γ = 3, δ = 1`` (equilibrium ``(γ/δ, α/β) = (3, 1.5)``, periods of
    about 2-4 time units). Each series starts at ``prey ~ U(1, 6)``,
    ``predator ~ U(0.5, 3)``, is integrated with ``scipy.integrate.solve_ivp`` (DOP853,
    rtol 1e-9) on a regular grid of ``grid_size`` points over ``[0, t_max]``, and keeps
    ``n_points`` of those grid points at random (sorted): its own irregular times.

    Parameters
    ----------
    n_series : int, default 100
        Number of series.
    n_points : int, default 50
        Observed points per series (>= 2, <= ``grid_size``).
    t_max : float, default 15.0
        End of the time window.
    alpha, beta, gamma, delta : float, default 1.5, 1.0, 3.0, 1.0
        Positive rate parameters.
    noise : float, default 0.05
        Noise level (>= 0).
    noise_type : {"multiplicative", "additive"}, default "multiplicative"
        ``"multiplicative"``: ``x · exp(noise · N(0, 1))`` (log-normal, keeps populations
        positive); ``"additive"``: ``x + noise · N(0, 1)``.
    grid_size : int or None, default None
        Size of the regular simulation grid (None: ``4 · n_points``).
    random_state : int, numpy.random.Generator or None, default None
        Seed; the output is deterministic given an int or a seeded Generator.
    return_params : bool, default False
        Also return ``unique_id, prey0, predator0`` (the initial states).
    return_system : bool, default False
        Also return the :class:`DynamicalSystem` (vector field and parameters).

    Returns
    -------
    df : pandas.DataFrame
        Long frame ``unique_id, ds, prey, predator``.
    params : pandas.DataFrame
        Only when ``return_params`` is True.
    system : DynamicalSystem
        Only when ``return_system`` is True (last).

    Raises
    ------
    ParameterError
        If an argument is out of range.
    """
    n_series = check_int(n_series, "n_series", _OWNER, 1)
    n_points = check_int(n_points, "n_points", _OWNER, 2)
    t_max = check_positive_float(t_max, "t_max", _OWNER)
    rates = {
        name: check_positive_float(value, name, _OWNER)
        for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma), ("delta", delta))
    }
    noise = check_positive_float(noise, "noise", _OWNER, allow_zero=True)
    if noise_type not in ("multiplicative", "additive"):
        raise ParameterError(
            f"The 'noise_type' parameter of {_OWNER} must be 'multiplicative' or 'additive'. "
            f"Got {noise_type!r} instead."
        )
    grid_size = 4 * n_points if grid_size is None else grid_size
    grid_size = check_int(grid_size, "grid_size", _OWNER, n_points)
    rng = check_random_state(random_state, _OWNER)

    system = lotka_volterra(**rates)
    x0 = np.column_stack(
        [rng.uniform(1.0, 6.0, size=n_series), rng.uniform(0.5, 3.0, size=n_series)]
    )
    grid = np.linspace(0.0, t_max, grid_size)
    clean = system.trajectory(x0, grid)
    eps = rng.standard_normal(clean.shape)
    noisy = clean * np.exp(noise * eps) if noise_type == "multiplicative" else clean + noise * eps
    keys = rng.random((n_series, grid_size))
    keep = np.sort(np.argsort(keys, axis=1)[:, :n_points], axis=1)
    values = np.take_along_axis(noisy, keep[..., None], axis=1)

    ids = series_ids(n_series)
    frame = long_frame(ids, grid[keep], values, system.state_cols)
    out: list[pd.DataFrame | DynamicalSystem] = [frame]
    if return_params:
        params = pd.DataFrame({"unique_id": ids, "prey0": x0[:, 0], "predator0": x0[:, 1]})
        out.append(params.astype({"unique_id": "str"}))
    if return_system:
        out.append(system)
    return frame if len(out) == 1 else tuple(out)
