"""The one registry of estimator classes: by class name (for loading saved models) and by
task (for the tracking adapters and plots)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from latentode.estimators._base import BaseTorchEstimator

__all__ = ["ESTIMATORS", "TASKS", "estimator_task", "register"]

#: Class name → class, for ``latentode.load``.
ESTIMATORS: dict[str, type[BaseTorchEstimator]] = {}

#: What an estimator does, as tracking and serving see it.
TASKS = ("forecast", "dynamics", "density")

T = TypeVar("T", bound="type[BaseTorchEstimator]")


def register(task: str) -> Any:
    """Class decorator: make an estimator loadable by name and known to tracking as a
    ``task`` (one of :data:`TASKS`)."""
    if task not in TASKS:
        raise ValueError(f"Unknown estimator task {task!r}; expected one of {TASKS}.")

    def decorate(cls: T) -> T:
        cls._task = task
        ESTIMATORS[cls.__name__] = cls
        return cls

    return decorate


def estimator_task(estimator: Any) -> str | None:
    """The task of a registered estimator (instance or class), else None."""
    cls = estimator if isinstance(estimator, type) else type(estimator)
    registered = ESTIMATORS.get(cls.__name__)
    return registered._task if registered is cls else None
