"""Probability levels of quantile and interval queries, and the output columns they name.

One place for the rule every forecaster and baseline follows: quantiles are
``<feature>_q<alpha>``; one central interval (``coverage=0.8``) is ``<feature>_lower`` /
``<feature>_upper``; several (``coverage=[0.8, 0.95]``) are named by their level in percent,
``<feature>_lower_80`` / ``<feature>_upper_80``, ``<feature>_lower_95`` / … .
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from latentode.exceptions import QueryError

__all__ = ["Interval", "check_levels", "intervals"]


class Interval(NamedTuple):
    """One central interval: its coverage and the suffixes of its bound columns."""

    coverage: float
    lower: str
    upper: str

    @property
    def probabilities(self) -> tuple[float, float]:
        """The quantile levels of the lower and upper bound."""
        return (1.0 - self.coverage) / 2.0, (1.0 + self.coverage) / 2.0


def check_levels(values: Any, name: str) -> list[float]:
    """Probability levels in (0, 1) from a number or a sequence, or a :class:`QueryError`."""
    try:
        array = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as exc:
        raise QueryError(f"'{name}' must hold numbers in (0, 1). Got {values!r} instead.") from exc
    levels = [float(v) for v in array] if array.ndim == 1 else []
    if not levels or any(math.isnan(v) or not (0.0 < v < 1.0) for v in levels):
        raise QueryError(f"'{name}' must hold numbers in (0, 1). Got {values!r} instead.")
    return levels


def intervals(coverage: Any) -> list[Interval]:
    """The central intervals a ``coverage`` argument asks for, with their column suffixes.

    A number gives one interval with the suffixes ``_lower`` / ``_upper``; a sequence gives
    one per level, suffixed by the level in percent (``0.8`` → ``_lower_80``, ``0.995`` →
    ``_lower_99.5``). Levels must be distinct.
    """
    several = isinstance(coverage, (Sequence, np.ndarray)) and not isinstance(coverage, str)
    levels = check_levels(coverage, "coverage")
    if not several:
        return [Interval(levels[0], "_lower", "_upper")]
    names = [f"{100.0 * level:.6g}" for level in levels]
    if len(set(names)) != len(names):
        raise QueryError(f"'coverage' lists a level twice: {list(coverage)!r}.")
    return [Interval(lv, f"_lower_{n}", f"_upper_{n}") for lv, n in zip(levels, names)]
