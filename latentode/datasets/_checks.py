"""Argument checks and random-state handling shared by the generators."""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from latentode.exceptions import ParameterError

__all__ = [
    "RandomStateLike",
    "check_fraction",
    "check_int",
    "check_positive_float",
    "check_random_state",
    "long_frame",
    "observed_indices",
    "series_ids",
]

RandomStateLike = int | np.random.Generator | None


def check_random_state(random_state: RandomStateLike, owner: str) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for an int seed, a Generator or None."""
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    raise ParameterError(
        f"The 'random_state' parameter of {owner} must be an int, a numpy.random.Generator "
        f"or None. Got {random_state!r} instead."
    )


def check_int(value: object, name: str, owner: str, low: int) -> int:
    """Validate an int >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ParameterError(
            f"The {name!r} parameter of {owner} must be an int in the range [{low}, inf). "
            f"Got {value!r} instead."
        )
    return int(value)


def check_positive_float(
    value: object, name: str, owner: str, *, allow_zero: bool = False
) -> float:
    """Validate a finite real > 0 (or >= 0 with ``allow_zero``)."""
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and (float(value) >= 0 if allow_zero else float(value) > 0)
    )
    if not ok:
        interval = "[0, inf)" if allow_zero else "(0, inf)"
        raise ParameterError(
            f"The {name!r} parameter of {owner} must be a float in the range {interval}. "
            f"Got {value!r} instead."
        )
    return float(value)  # type: ignore[arg-type]


def check_fraction(value: object, name: str, owner: str) -> float:
    """Validate a float in (0, 1]."""
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and 0.0 < float(value) <= 1.0
    )
    if not ok:
        raise ParameterError(
            f"The {name!r} parameter of {owner} must be a float in the range (0, 1]. "
            f"Got {value!r} instead."
        )
    return float(value)  # type: ignore[arg-type]


def series_ids(n_series: int) -> list[str]:
    """Ids ``"s0000"``, ``"s0001"``, ... (wider when there are more than 10,000 series)."""
    width = max(4, len(str(n_series - 1)))
    return [f"s{i:0{width}d}" for i in range(n_series)]


def observed_indices(
    rng: np.random.Generator, n_series: int, n_points: int, fraction: float
) -> np.ndarray:
    """Sorted random subsets of ``max(2, round(fraction * n_points))`` grid indices.

    Returns
    -------
    numpy.ndarray of shape (n_series, n_kept), int64
    """
    if fraction >= 1.0:
        return np.tile(np.arange(n_points), (n_series, 1))
    n_kept = min(n_points, max(2, round(fraction * n_points)))
    keys = rng.random((n_series, n_points))
    return np.sort(np.argsort(keys, axis=1)[:, :n_kept], axis=1)


def long_frame(
    ids: list[str], times: np.ndarray, values: np.ndarray, columns: tuple[str, ...]
) -> pd.DataFrame:
    """Long frame from ``times`` (n_series, k) and ``values`` (n_series, k, d)."""
    n_series, k = times.shape
    data: dict[str, object] = {
        "unique_id": np.repeat(np.asarray(ids, dtype=object), k),
        "ds": times.reshape(-1).astype(np.float64),
    }
    flat = values.reshape(n_series * k, len(columns))
    for j, col in enumerate(columns):
        data[col] = flat[:, j].astype(np.float64)
    frame = pd.DataFrame(data)
    frame["unique_id"] = frame["unique_id"].astype("str")
    return frame
