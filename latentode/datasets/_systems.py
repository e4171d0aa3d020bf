"""Known dynamical systems: :class:`DynamicalSystem` and the vector fields behind them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from latentode.exceptions import ParameterError, SolverError

__all__ = [
    "DynamicalSystem",
    "cubic_oscillator",
    "damped_pendulum",
    "linear_spiral",
    "lorenz",
    "lotka_volterra",
]

#: Accuracy of every reference integration (``scipy.integrate.solve_ivp``, DOP853).
RTOL = 1e-9
ATOL = 1e-9


@dataclass(frozen=True, eq=False)
class DynamicalSystem:
    """An autonomous ODE ``dx/dt = f(x)`` with known ground truth.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"lorenz"``.
    state_cols : tuple of str
        Names of the state components (the feature columns of generated frames).
    vector_field : callable
        ``f(x)`` for ``x`` of shape (..., n_dims) (e.g. (n, d)), returning the same shape.
        Picklable (a ``functools.partial`` of a module-level function).
    default_initial_state : tuple of float
        The initial state of the first generated series.
    parameters : mapping of str to float
        Parameters of the vector field.
    matrix : numpy.ndarray of shape (n_dims, n_dims) or None
        For fields built on a matrix ``A`` (``A x`` or ``A x**3``), that matrix; else None.
    description : str
        The equations in words.
    """

    name: str
    state_cols: tuple[str, ...]
    vector_field: Callable[[np.ndarray], np.ndarray]
    default_initial_state: tuple[float, ...]
    parameters: Mapping[str, float] = field(default_factory=dict)
    matrix: np.ndarray | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.matrix is not None:
            matrix = np.array(self.matrix, dtype=np.float64)
            matrix.setflags(write=False)
            object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "parameters", dict(self.parameters))

    @property
    def n_dims(self) -> int:
        """Dimension of the state."""
        return len(self.state_cols)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate the vector field (same as ``vector_field(x)``)."""
        return self.vector_field(np.asarray(x, dtype=np.float64))

    def trajectory(
        self, initial_state: Any, times: Any, *, rtol: float = RTOL, atol: float = ATOL
    ) -> np.ndarray:
        """Integrate the system accurately with ``scipy.integrate.solve_ivp`` (DOP853).

        Parameters
        ----------
        initial_state : array-like of shape (n_dims,) or (n_series, n_dims)
            State(s) at ``times[0]``.
        times : array-like of shape (n_times,)
            Increasing output times; the integration starts at ``times[0]``.
        rtol, atol : float, default 1e-9
            Solver tolerances.

        Returns
        -------
        numpy.ndarray of shape (n_times, n_dims) or (n_series, n_times, n_dims)

        Raises
        ------
        ParameterError
            If shapes do not match or ``times`` is not increasing.
        SolverError
            If the solver fails.
        """
        from scipy.integrate import solve_ivp

        x0 = np.asarray(initial_state, dtype=np.float64)
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        single = x0.ndim == 1
        x0 = np.atleast_2d(x0)
        if x0.ndim != 2 or x0.shape[1] != self.n_dims:
            raise ParameterError(
                f"Expected initial states of shape ({self.n_dims},) or (n, {self.n_dims}) for "
                f"{self.name}; got {np.shape(initial_state)}."
            )
        if t.size == 0 or (t.size > 1 and not (np.diff(t) > 0).all()):
            raise ParameterError(
                f"Expected a non-empty, strictly increasing array of times; got {t.size} times."
            )
        n, d = x0.shape

        def rhs(_: float, y: np.ndarray) -> np.ndarray:
            return self.vector_field(y.reshape(n, d)).reshape(-1)

        if t.size == 1:
            out = x0[:, None, :].copy()
        else:
            sol = solve_ivp(
                rhs, (t[0], t[-1]), x0.reshape(-1), method="DOP853", t_eval=t, rtol=rtol, atol=atol
            )
            if not sol.success:
                raise SolverError(f"Integrating {self.name} failed: {sol.message}")
            out = sol.y.reshape(n, d, t.size).transpose(0, 2, 1)
        return out[0] if single else out


def _linear(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return x @ matrix.T


def _cubic(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return (x**3) @ matrix.T


def _pendulum(x: np.ndarray, damping: float, stiffness: float) -> np.ndarray:
    theta, omega = x[..., 0], x[..., 1]
    return np.stack([omega, -damping * omega - stiffness * np.sin(theta)], axis=-1)


def _lorenz(x: np.ndarray, sigma: float, rho: float, beta: float) -> np.ndarray:
    a, b, c = x[..., 0], x[..., 1], x[..., 2]
    return np.stack([sigma * (b - a), a * (rho - c) - b, a * b - beta * c], axis=-1)


def _lotka_volterra(
    x: np.ndarray, alpha: float, beta: float, gamma: float, delta: float
) -> np.ndarray:
    prey, predator = x[..., 0], x[..., 1]
    return np.stack(
        [alpha * prey - beta * prey * predator, delta * prey * predator - gamma * predator],
        axis=-1,
    )


_SPIRAL_MATRIX = ((-0.1, 2.0), (-2.0, -0.1))


def linear_spiral() -> DynamicalSystem:
    """``dz/dt = A z`` with ``A = [[-0.1, 2.0], [-2.0, -0.1]]``: a decaying clockwise spiral."""
    matrix = np.array(_SPIRAL_MATRIX)
    return DynamicalSystem(
        name="linear_spiral",
        state_cols=("x", "y"),
        vector_field=functools.partial(_linear, matrix=matrix),
        default_initial_state=(2.0, 0.0),
        matrix=matrix,
        description="dz/dt = A z, A = [[-0.1, 2.0], [-2.0, -0.1]] (eigenvalues -0.1 ± 2i).",
    )


def cubic_oscillator() -> DynamicalSystem:
    """``dz/dt = A z**3`` (element-wise cube) with the spiral's ``A``."""
    matrix = np.array(_SPIRAL_MATRIX)
    return DynamicalSystem(
        name="cubic_oscillator",
        state_cols=("x", "y"),
        vector_field=functools.partial(_cubic, matrix=matrix),
        default_initial_state=(2.0, 0.0),
        matrix=matrix,
        description=(
            "dz/dt = A z**3 (element-wise), A = [[-0.1, 2.0], [-2.0, -0.1]]: fast rotation "
            "while |z| is large, slow creeping once |z| < 1 (two time-scale regimes)."
        ),
    )


def damped_pendulum(damping: float = 0.25, stiffness: float = 5.0) -> DynamicalSystem:
    """``theta'' + damping · theta' + stiffness · sin(theta) = 0`` (scipy's odeint example)."""
    return DynamicalSystem(
        name="damped_pendulum",
        state_cols=("theta", "omega"),
        vector_field=functools.partial(_pendulum, damping=damping, stiffness=stiffness),
        default_initial_state=(float(np.pi - 0.1), 0.0),
        parameters={"damping": damping, "stiffness": stiffness},
        description=(f"dtheta/dt = omega, domega/dt = -{damping} omega - {stiffness} sin(theta)."),
    )


def lorenz(sigma: float = 10.0, rho: float = 28.0, beta: float = 8.0 / 3.0) -> DynamicalSystem:
    """The Lorenz-63 system with the classic chaotic parameters."""
    return DynamicalSystem(
        name="lorenz",
        state_cols=("x", "y", "z"),
        vector_field=functools.partial(_lorenz, sigma=sigma, rho=rho, beta=beta),
        default_initial_state=(-8.0, 8.0, 27.0),
        parameters={"sigma": sigma, "rho": rho, "beta": beta},
        description=(
            f"dx/dt = {sigma} (y - x), dy/dt = x ({rho} - z) - y, dz/dt = x y - {beta:.4g} z."
        ),
    )


def lotka_volterra(
    alpha: float = 1.5, beta: float = 1.0, gamma: float = 3.0, delta: float = 1.0
) -> DynamicalSystem:
    """Predator-prey dynamics ``x' = αx − βxy``, ``y' = δxy − γy``."""
    return DynamicalSystem(
        name="lotka_volterra",
        state_cols=("prey", "predator"),
        vector_field=functools.partial(
            _lotka_volterra, alpha=alpha, beta=beta, gamma=gamma, delta=delta
        ),
        default_initial_state=(5.0, 2.0),
        parameters={"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta},
        description=(
            f"dprey/dt = {alpha} prey - {beta} prey predator, "
            f"dpredator/dt = {delta} prey predator - {gamma} predator."
        ),
    )
