"""Exceptions raised by latentode.

Hierarchy (each subclasses a builtin so callers may catch the builtin)::

    LatentODEError                      base of everything below
    ├── LongFrameError(ValueError)      a long frame is malformed: missing / non-numeric
    │                                   column, null id or time, series with no observation,
    │                                   duplicate timestamps, non-finite values
    ├── QueryError(ValueError)          query times / horizons that cannot be answered
    ├── ParameterError(ValueError)      an estimator hyper-parameter is invalid
    ├── SolverError(RuntimeError)       the ODE solver failed: step size underflow,
    │   │                               ``max_num_steps`` exceeded
    │   └── MaxStepsExceededError
    ├── NonFiniteLossError(FloatingPointError)  training produced NaN / inf
    ├── DeadlineExceededError(TimeoutError)  work ran past a :func:`latentode.deadline`
    ├── ModelFileError(OSError)         a saved model directory is missing or corrupt
    └── RegistryError(LookupError)      a registered model, version, alias or metric
                                        is missing (MLflow model registry)

Warnings: ``TrackingWarning(UserWarning)``: MLflow tracking failed and the fit went on
without it. ``SolverAccuracyWarning(UserWarning)``: a fast fixed-step decoder differs from
a tight adaptive solve by more than the tolerance after a fit.

``sklearn.exceptions.NotFittedError`` is raised (not redefined) when an unfitted
estimator is used.
"""

from __future__ import annotations

__all__ = [
    "DeadlineExceededError",
    "LatentODEError",
    "LongFrameError",
    "MaxStepsExceededError",
    "ModelFileError",
    "NonFiniteLossError",
    "ParameterError",
    "QueryError",
    "RegistryError",
    "SolverAccuracyWarning",
    "SolverError",
    "TrackingWarning",
]


class LatentODEError(Exception):
    """Base class of every error raised by latentode."""


class LongFrameError(LatentODEError, ValueError):
    """A long frame (id, time, feature columns) is malformed."""


class QueryError(LatentODEError, ValueError):
    """Query times or a horizon cannot be answered for the given history."""


class ParameterError(LatentODEError, ValueError):
    """An estimator hyper-parameter has an invalid value."""


class SolverError(LatentODEError, RuntimeError):
    """The ODE solver failed (step-size underflow, too many steps)."""


class MaxStepsExceededError(SolverError):
    """The solver took (or a fixed-step solve would take) more than ``max_num_steps`` steps.

    ``row`` is the batch row of the offending series where it is known (fixed-step solves
    check their step counts before they allocate anything); the estimators replace it with
    the series id in the message.
    """

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


class NonFiniteLossError(LatentODEError, FloatingPointError):
    """A training loss became NaN or infinite."""


class DeadlineExceededError(LatentODEError, TimeoutError):
    """The computation ran past the time limit set by :func:`latentode.deadline` and was
    stopped (the serving endpoint answers HTTP 504 with the message)."""


class ModelFileError(LatentODEError, OSError):
    """A saved model directory is missing, incomplete or of an unknown format."""


class RegistryError(LatentODEError, LookupError):
    """A registered model, version, alias or the metric to compare is missing."""


class TrackingWarning(UserWarning):
    """MLflow tracking failed (store unreachable, disk full, ...); the fit went on without it."""


class SolverAccuracyWarning(UserWarning):
    """A fixed-step decoder is inaccurate on the fitted dynamics (see the message)."""
