"""How to solve an ODE: :class:`SolverConfig`, a frozen option object checked on creation.

The method names are torchdiffeq's, but this module does not import torchdiffeq (only
:mod:`latentode.nn.solve` does): estimators validate their ``method`` parameter against
:data:`ADAPTIVE_METHODS` and :data:`FIXED_METHODS` without loading the solver.
"""

from __future__ import annotations

import dataclasses

from latentode.exceptions import ParameterError

__all__ = ["ADAPTIVE_METHODS", "FIXED_METHODS", "SolverConfig"]

ADAPTIVE_METHODS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
FIXED_METHODS = ("euler", "midpoint", "rk4")
#: torchdiffeq's Adams methods assume equal steps along one grid; per-series grids (whose
#: step length changes from segment to segment, and which idle once a series has crossed
#: its gap) break their multistep history: exp(-t) at t = 1 came out -1.0 (explicit) and
#: 0.40 instead of 0.0067 at t = 5 (implicit). Refused with that reason.
UNSUPPORTED_METHODS = ("explicit_adams", "implicit_adams")


@dataclasses.dataclass(frozen=True)
class SolverConfig:
    """How to solve an ODE (validated on construction).

    Parameters
    ----------
    method : str
        A torchdiffeq method: adaptive (``"dopri5"``, ``"dopri8"``, ``"bosh3"``,
        ``"fehlberg2"``, ``"adaptive_heun"``) or fixed-step (``"euler"``, ``"midpoint"``,
        ``"rk4"``). The Adams methods are refused (see ``UNSUPPORTED_METHODS``).
    rtol, atol : float
        Tolerances of adaptive methods.
    adjoint : bool
        Back-propagate with the adjoint method (memory O(1) in the number of steps, but
        slower on CPU) instead of through the solver's operations.
    max_num_steps : int
        Adaptive methods raise :class:`~latentode.exceptions.MaxStepsExceededError` after
        this many steps in one solve.
    n_substeps : int
        Fixed-step methods take at least this many equal steps between consecutive query
        times.
    step_size : float or None
        Fixed-step methods: the step, in the ODE's time units. ``euler``, ``midpoint`` and
        ``rk4`` without the adjoint step along each series' own grid ``t0 ± j·step_size``
        and reach a query between grid points by one partial step, so the trajectory does
        not depend on which times are queried (a model trained on some target times
        predicts the same values at others). With the adjoint, and for the Adams methods,
        a gap between query times gets ``ceil(gap / step_size)`` equal steps (at least
        ``n_substeps``). Without a step size a gap is crossed in ``n_substeps`` steps,
        however long it is.
    adjoint_seminorm : bool
        Use the seminorm of Kidger et al. (2021) for the adjoint's error control (fewer
        backward steps, same gradients to tolerance).
    """

    method: str = "dopri5"
    rtol: float = 1e-3
    atol: float = 1e-4
    adjoint: bool = False
    max_num_steps: int = 10_000
    n_substeps: int = 1
    step_size: float | None = None
    adjoint_seminorm: bool = True

    def __post_init__(self) -> None:
        if self.method in UNSUPPORTED_METHODS:
            raise ParameterError(
                f"The method {self.method!r} is not supported: Adams multistep methods need "
                "equal steps on one grid, which per-series time grids do not give (their "
                "results were wrong). Use 'euler', 'midpoint', 'rk4' or an adaptive method."
            )
        if self.method not in ADAPTIVE_METHODS + FIXED_METHODS:
            raise ParameterError(
                f"The 'method' of SolverConfig must be one of "
                f"{list(ADAPTIVE_METHODS + FIXED_METHODS)}. Got {self.method!r} instead."
            )
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ParameterError(
                    f"The '{name}' of SolverConfig must be a float in the range (0, inf). "
                    f"Got {value!r} instead."
                )
        if self.step_size is not None and not (
            isinstance(self.step_size, (int, float)) and self.step_size > 0
        ):
            raise ParameterError(
                "The 'step_size' of SolverConfig must be a float in the range (0, inf) or "
                f"None. Got {self.step_size!r} instead."
            )
        for name in ("max_num_steps", "n_substeps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(
                    f"The '{name}' of SolverConfig must be an int in the range [1, inf). "
                    f"Got {value!r} instead."
                )

    @property
    def adaptive(self) -> bool:
        return self.method in ADAPTIVE_METHODS
