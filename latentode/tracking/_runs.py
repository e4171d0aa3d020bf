"""Which MLflow run tracked an estimator's last fit (so ``log_model`` can join it)."""

from __future__ import annotations

import weakref
from typing import Any

__all__ = ["remember_run", "run_of"]

_RUNS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def remember_run(estimator: Any, run_id: str) -> None:
    """Record that ``run_id`` tracked the latest fit of ``estimator``."""
    try:
        _RUNS[estimator] = run_id
    except TypeError:  # an estimator that cannot be weakly referenced: nothing to remember
        return


def run_of(estimator: Any) -> str | None:
    """The run that tracked ``estimator``'s latest fit in this process, or None."""
    try:
        return _RUNS.get(estimator)
    except TypeError:
        return None
