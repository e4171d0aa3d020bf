"""Declarative hyper-parameter constraints with one error format.

Each estimator declares ``_parameter_constraints = {"name": [constraint, ...]}``; ``fit``
calls :func:`validate_params`, which raises::

    ParameterError: The 'latent_dim' parameter of LatentODEForecaster must be an int in the
    range [1, inf). Got 0 instead.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Collection
from typing import Any

import numpy as np

from latentode.exceptions import ParameterError

__all__ = [
    "BOOL",
    "NONE",
    "NONNEG_INT",
    "POS_FLOAT",
    "POS_INT",
    "STR",
    "UNIT",
    "Interval",
    "Options",
    "PositiveInts",
    "RandomStateLike",
    "TypeOf",
    "validate_params",
]


@dataclasses.dataclass(frozen=True)
class Interval:
    """A number of ``kind`` (int or float) in ``[low, high]`` (open ends with ``closed``)."""

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right", "neither"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is int:
            if not isinstance(value, numbers.Integral):
                return False
        elif not isinstance(value, numbers.Real):
            return False
        # numpy's stubs take float/ndarray, not the numbers.Real ABC (untyped in typeshed).
        elif not np.isfinite(value):  # type: ignore[call-overload]
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def describe(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        name = "an int" if self.kind is int else "a float"
        return f"{name} in the range {left}{low}, {high}{right}"


@dataclasses.dataclass(frozen=True)
class Options:
    """One of a fixed set of values (usually strings)."""

    values: Collection[Any]

    def accepts(self, value: Any) -> bool:
        try:
            return value in self.values
        except TypeError:
            return False

    def describe(self) -> str:
        return f"a str among {sorted(map(repr, self.values))}".replace('"', "")


@dataclasses.dataclass(frozen=True)
class TypeOf:
    """An instance of one of ``types`` (``None`` in the tuple accepts None)."""

    types: tuple
    name: str

    def accepts(self, value: Any) -> bool:
        if value is None:
            return None in self.types
        return isinstance(value, tuple(t for t in self.types if t is not None))

    def describe(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class PositiveInts:
    """A non-empty tuple or list of ints >= 1 (e.g. hidden layer widths)."""

    def accepts(self, value: Any) -> bool:
        return (
            isinstance(value, (tuple, list))
            and len(value) > 0
            and all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                for v in value
            )
        )

    def describe(self) -> str:
        return "a non-empty tuple of ints >= 1"


@dataclasses.dataclass(frozen=True)
class RandomStateLike:
    """What scikit-learn accepts as ``random_state``: None, an int >= 0, a
    ``numpy.random.RandomState`` or a ``numpy.random.Generator``."""

    def accepts(self, value: Any) -> bool:
        if value is None or isinstance(value, (np.random.RandomState, np.random.Generator)):
            return True
        return Interval(int, 0, 2**32 - 1).accepts(value)

    def describe(self) -> str:
        return "None, an int in the range [0, 2**32 - 1], a numpy RandomState or Generator"


POS_INT = Interval(int, 1, None)
NONNEG_INT = Interval(int, 0, None)
POS_FLOAT = Interval(float, 0, None, closed="neither")
UNIT = Interval(float, 0, 1, closed="both")
BOOL = TypeOf((bool,), "a bool")
STR = TypeOf((str,), "a str")
NONE = TypeOf((None,), "None")


def validate_params(estimator: Any, constraints: dict[str, list[Any]]) -> None:
    """Check every parameter of ``estimator`` against ``constraints``."""
    params = estimator.get_params(deep=False)
    for name, allowed in constraints.items():
        value = params[name]
        if any(c.accepts(value) for c in allowed):
            continue
        described = [c.describe() for c in allowed]
        text = (
            described[0]
            if len(described) == 1
            else (", ".join(described[:-1]) + " or " + described[-1])
        )
        raise ParameterError(
            f"The '{name}' parameter of {type(estimator).__name__} must be {text}. "
            f"Got {value!r} instead."
        )
