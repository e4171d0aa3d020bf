"""Typed errors for solver failures: :func:`translate_solver_errors`.

torchdiffeq signals a step-count overflow or a step-size underflow with a bare
``AssertionError``; this context manager re-raises them as
:class:`~latentode.exceptions.MaxStepsExceededError` and
:class:`~latentode.exceptions.SolverError` with a hint on how to fix them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from latentode.exceptions import MaxStepsExceededError, SolverError

__all__ = ["translate_solver_errors"]


@contextlib.contextmanager
def translate_solver_errors() -> Iterator[None]:
    """Turn torchdiffeq's ``AssertionError`` for step failures into typed errors.

    Used around forward solves and around ``loss.backward()`` (where the adjoint solves).
    """
    try:
        yield
    except AssertionError as exc:
        message = str(exc)
        if "max_num_steps" in message:
            raise MaxStepsExceededError(
                f"The ODE solver exceeded max_num_steps ({message}). The dynamics became "
                "stiff or the tolerances are too tight: raise 'max_num_steps', loosen "
                "'rtol'/'atol', lower the learning rate, or use a fixed-step method."
            ) from exc
        if "underflow" in message:
            raise SolverError(
                f"The ODE solver's step size underflowed ({message}); the dynamics are "
                "stiff or diverging. Loosen the tolerances or lower the learning rate."
            ) from exc
        raise
