"""Noisy, irregularly observed trajectories of known systems ("recover the dynamics")."""

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
from latentode.datasets._systems import (
    DynamicalSystem,
    cubic_oscillator,
    damped_pendulum,
    linear_spiral,
    lorenz,
)

__all__ = ["make_damped_pendulum", "make_linear_spiral", "make_lorenz", "make_two_regime"]


def simulate(
    system: DynamicalSystem,
    owner: str,
    *,
    n_series: int,
    n_points: int,
    t_max: float,
    noise: float,
    observed_fraction: float,
    random_state: RandomStateLike,
    initial_spread: float | tuple[float, ...],
    relative_noise: bool = True,
) -> pd.DataFrame:
    """Integrate ``system`` on a regular grid, add noise, keep a random subset per series.

    Series 0 starts at ``system.default_initial_state``; the others at that state plus
    ``initial_spread · N(0, 1)`` per component. Noise is Gaussian with standard deviation
    ``noise · std_j`` (``std_j``: the clean state's standard deviation of component ``j``
    over all series and grid points) when ``relative_noise``, else ``noise``.
    """
    n_series = check_int(n_series, "n_series", owner, 1)
    n_points = check_int(n_points, "n_points", owner, 2)
    t_max = check_positive_float(t_max, "t_max", owner)
    noise = check_positive_float(noise, "noise", owner, allow_zero=True)
    observed_fraction = check_fraction(observed_fraction, "observed_fraction", owner)
    rng = check_random_state(random_state, owner)

    base = np.asarray(system.default_initial_state, dtype=np.float64)
    spread = np.broadcast_to(np.asarray(initial_spread, dtype=np.float64), base.shape)
    x0 = base + spread * rng.standard_normal((n_series, base.size))
    x0[0] = base
    grid = np.linspace(0.0, t_max, n_points)
    clean = system.trajectory(x0, grid)  # (n_series, n_points, d)
    scale = clean.reshape(-1, base.size).std(axis=0) if relative_noise else np.ones(base.size)
    noisy = clean + noise * scale * rng.standard_normal(clean.shape)
    keep = observed_indices(rng, n_series, n_points, observed_fraction)
    times = grid[keep]
    values = np.take_along_axis(noisy, keep[..., None], axis=1)
    return long_frame(series_ids(n_series), times, values, system.state_cols)


_RETURNS = """
    Returns
    -------
    df : pandas.DataFrame
        Long frame ``unique_id, ds, {cols}``: for each series a random, sorted subset of
        ``max(2, round(observed_fraction * n_points))`` points of the regular grid
        ``linspace(0, t_max, n_points)``, with Gaussian noise of standard deviation
        ``noise`` times each component's standard deviation.
    system : DynamicalSystem
        The ground truth (vector field, initial state{extra}).

    Raises
    ------
    ParameterError
        If an argument is out of range.
"""

_PARAMETERS = """
    Parameters
    ----------
    n_series : int, default 1
        Number of trajectories. Series 0 starts at ``system.default_initial_state``, the
        others at random perturbations of it.
    n_points : int, default {n_points}
        Size of the regular simulation grid.
    t_max : float, default {t_max}
        End of the simulated time window (the grid starts at 0).
    noise : float, default 0.01
        Noise standard deviation relative to each state component's standard deviation.
    observed_fraction : float, default 0.3
        Fraction of the grid points kept (at random) in each series.
    random_state : int, numpy.random.Generator or None, default None
        Seed; the output is deterministic given an int or a seeded Generator.
"""


def make_linear_spiral(
    n_series: int = 1,
    n_points: int = 1000,
    t_max: float = 25.0,
    *,
    noise: float = 0.01,
    observed_fraction: float = 0.3,
    random_state: RandomStateLike = None,
) -> tuple[pd.DataFrame, DynamicalSystem]:
    system = linear_spiral()
    df = simulate(
        system,
        "make_linear_spiral",
        n_series=n_series,
        n_points=n_points,
        t_max=t_max,
        noise=noise,
        observed_fraction=observed_fraction,
        random_state=random_state,
        initial_spread=0.5,
    )
    return df, system


make_linear_spiral.__doc__ = (
    """A damped linear spiral ``dz/dt = A z``, ``A = [[-0.1, 2.0], [-2.0, -0.1]]``.

    The eigenvalues are ``-0.1 ± 2i``: trajectories rotate clockwise with period ``π`` and
    shrink by ``e^{-0.1 t}``. The default initial state is ``(2, 0)`` (the PySINDy /
    torchdiffeq demo setting); ``system.matrix`` is ``A``.
"""
    + _PARAMETERS.format(n_points=1000, t_max=25.0)
    + _RETURNS.format(cols="x, y", extra=", system.matrix = A")
)


def make_two_regime(
    n_series: int = 1,
    n_points: int = 1000,
    t_max: float = 25.0,
    *,
    noise: float = 0.01,
    observed_fraction: float = 0.3,
    random_state: RandomStateLike = None,
) -> tuple[pd.DataFrame, DynamicalSystem]:
    system = cubic_oscillator()
    df = simulate(
        system,
        "make_two_regime",
        n_series=n_series,
        n_points=n_points,
        t_max=t_max,
        noise=noise,
        observed_fraction=observed_fraction,
        random_state=random_state,
        initial_spread=0.3,
    )
    return df, system


make_two_regime.__doc__ = (
    """The cubic oscillator ``dz/dt = A z**3`` (element-wise cube) of the Neural ODE demo.

    With ``A = [[-0.1, 2.0], [-2.0, -0.1]]`` the speed grows with ``|z|**3``: a trajectory
    started at ``(2, 0)`` first spins fast at large amplitude, then, once ``|z| < 1``,
    creeps slowly around the origin — two dynamical regimes whose time scales differ by
    more than an order of magnitude, which a learned field must both capture. The
    torchdiffeq ``ode_demo.py`` uses the row-vector form ``z**3 @ A`` (i.e. ``A.T``,
    rotating the other way); here the column form ``A z**3`` is used, like
    :func:`make_linear_spiral`. ``system.matrix`` is ``A``.
"""
    + _PARAMETERS.format(n_points=1000, t_max=25.0)
    + _RETURNS.format(cols="x, y", extra=", system.matrix = A")
)


def make_damped_pendulum(
    n_series: int = 1,
    n_points: int = 500,
    t_max: float = 10.0,
    *,
    noise: float = 0.01,
    observed_fraction: float = 0.3,
    random_state: RandomStateLike = None,
) -> tuple[pd.DataFrame, DynamicalSystem]:
    system = damped_pendulum()
    df = simulate(
        system,
        "make_damped_pendulum",
        n_series=n_series,
        n_points=n_points,
        t_max=t_max,
        noise=noise,
        observed_fraction=observed_fraction,
        random_state=random_state,
        initial_spread=(0.3, 0.5),
    )
    return df, system


make_damped_pendulum.__doc__ = (
    """A damped nonlinear pendulum ``theta'' + 0.25 theta' + 5 sin(theta) = 0``.

    State ``(theta, omega)``; the parameters and the initial state ``(π - 0.1, 0)`` (nearly
    upright) are those of ``scipy.integrate.odeint``'s documentation example.
"""
    + _PARAMETERS.format(n_points=500, t_max=10.0)
    + _RETURNS.format(cols="theta, omega", extra="")
)


def make_lorenz(
    n_series: int = 1,
    n_points: int = 1000,
    t_max: float = 10.0,
    *,
    noise: float = 0.01,
    observed_fraction: float = 0.3,
    random_state: RandomStateLike = None,
) -> tuple[pd.DataFrame, DynamicalSystem]:
    system = lorenz()
    df = simulate(
        system,
        "make_lorenz",
        n_series=n_series,
        n_points=n_points,
        t_max=t_max,
        noise=noise,
        observed_fraction=observed_fraction,
        random_state=random_state,
        initial_spread=2.0,
    )
    return df, system


make_lorenz.__doc__ = (
    """The Lorenz-63 system (``sigma = 10``, ``rho = 28``, ``beta = 8/3``), chaotic.

    The initial state ``(-8, 8, 27)`` is the one of the PySINDy examples.
"""
    + _PARAMETERS.format(n_points=1000, t_max=10.0)
    + _RETURNS.format(cols="x, y, z", extra="")
)
