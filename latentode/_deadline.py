"""Wall-clock limits that stop a computation: :func:`deadline` and :func:`check_deadline`.

A deadline is kept in a :mod:`contextvars` variable, so it belongs to the thread (or
asyncio task) that set it: a web server answering requests on several threads gives each
request its own limit. The solvers call :func:`check_deadline` at every vector-field
evaluation and the encoders at every observation, so work stops within one solver step
of the limit instead of running on after the caller has given up.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from latentode.exceptions import DeadlineExceededError, ParameterError

__all__ = ["check_deadline", "deadline", "time_left"]

# (monotonic time at which work must stop, the limit in seconds as given, for messages)
_DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "latentode_deadline", default=None
)


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Stop latentode work in this block once ``seconds`` of wall-clock time have passed.

    Inside the block, fitting, prediction, sampling and scoring raise
    :class:`~latentode.exceptions.DeadlineExceededError` at the first solver step or
    encoder step after the limit (the model itself is unchanged; a fit interrupted this
    way behaves as any interrupted fit). Nested deadlines keep the earlier limit.

    Parameters
    ----------
    seconds : float or None
        The limit, > 0; None sets no limit (the block runs as without it).

    Examples
    --------
    >>> import latentode
    >>> with latentode.deadline(30.0):  # doctest: +SKIP
    ...     forecast = est.predict(history, horizon=10.0)
    """
    if seconds is None:
        yield
        return
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ParameterError(
            f"deadline(seconds) takes a number of seconds or None. Got {seconds!r} instead."
        )
    if not (math.isfinite(seconds) and seconds > 0):
        raise ParameterError(f"deadline(seconds) must be finite and > 0. Got {seconds!r} instead.")
    at = time.monotonic() + float(seconds)
    outer = _DEADLINE.get()
    if outer is not None and outer[0] <= at:
        yield
        return
    token = _DEADLINE.set((at, float(seconds)))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left before the current deadline (None outside :func:`deadline`)."""
    current = _DEADLINE.get()
    return None if current is None else current[0] - time.monotonic()


def check_deadline() -> None:
    """Raise :class:`~latentode.exceptions.DeadlineExceededError` if the deadline passed."""
    current = _DEADLINE.get()
    if current is not None and time.monotonic() > current[0]:
        raise DeadlineExceededError(
            f"The computation was stopped after its time limit of {current[1]:g} s "
            "(latentode.deadline). Ask for less work (fewer series, samples or query "
            "times, or nearer times) or allow more time."
        )
