"""The one registry of estimator classes: by class name (for loading saved models) and by
task (for the tracking adapters and plots)."""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["ESTIMATORS", "TASKS", "estimator_task", "register"]

#: Class name → class, for ``latentode.load``.
ESTIMATORS: dict[str, type] = {}

#: What an estimator does, as tracking and serving see it.
TASKS = ("forecast", "dynamics", "density")

T = TypeVar("T", bound=type)


def register(task: str) -> Any:
    """Class decorator: make an estimator loadable by name and known to tracking as a
    ``task`` (one of :data:`TASKS`)."""
    if task not in TASKS:
        raise ValueError(f"Unknown estimator task {task!r}; expected one of {TASKS}.")

    def decorate(cls: T) -> T:
        cls._task = task  # type: ignore[attr-defined]
        ESTIMATORS[cls.__name__] = cls
        return cls

    return decorate


def estimator_task(estimator: Any) -> str | None:
    """The task of a registered estimator (instance or class), else None."""
    cls = estimator if isinstance(estimator, type) else type(estimator)
    return cls._task if ESTIMATORS.get(cls.__name__) is cls else None
