"""Raw time columns: their kind, integer ticks, per-series spans, unit checks, even grids."""

from __future__ import annotations

import datetime
import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from latentode.exceptions import ParameterError

__all__ = ["TIME_UNITS", "check_time_unit", "even_times", "time_kind"]

#: Units a datetime time column may be expressed in before normalisation.
TIME_UNITS: tuple[str, ...] = ("s", "min", "h", "D", "W")
_RESOLUTIONS = ("s", "ms", "us", "ns")


def check_time_unit(time_unit: str | None) -> str:
    """Validate ``time_unit`` and return it, ``"D"`` when it is None."""
    if time_unit is None:
        return "D"
    if not isinstance(time_unit, str) or time_unit not in TIME_UNITS:
        raise ParameterError(
            f"The 'time_unit' parameter must be None or one of {list(TIME_UNITS)}. "
            f"Got {time_unit!r} instead."
        )
    return time_unit


def even_times(start: Any, stop: Any, n: int) -> np.ndarray | pd.DatetimeIndex:
    """``n`` evenly spaced times from ``start`` to ``stop`` (both included).

    Parameters
    ----------
    start, stop : number or datetime
        Ends of the grid: numbers, or ``pd.Timestamp`` / ``numpy.datetime64`` /
        ``datetime.datetime`` (a time zone is kept).
    n : int
        Number of times.

    Returns
    -------
    numpy.ndarray of float64 or pandas.DatetimeIndex, shape (n,)
    """
    if isinstance(start, (pd.Timestamp, np.datetime64, datetime.datetime)):
        return pd.date_range(pd.Timestamp(start), pd.Timestamp(stop), periods=n)
    return np.linspace(float(start), float(stop), n)


def time_kind(ds: pd.Series) -> Literal["numeric", "datetime"] | None:
    """Return ``"numeric"`` / ``"datetime"`` for a usable time column, else None."""
    dtype = ds.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_bool_dtype(dtype):
        return None
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    return None


def _tz_name(ds: pd.Series) -> str | None:
    tz = getattr(ds.dtype, "tz", None)
    return None if tz is None else str(tz)


def _resolution(ds: pd.Series) -> str:
    unit = getattr(ds.dtype, "unit", None)
    if unit is None:  # plain numpy datetime64[...]
        unit = np.datetime_data(ds.dtype)[0]
    return unit if unit in _RESOLUTIONS else "ns"


def _ticks(ds: pd.Series, resolution: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer ticks (``resolution`` units since the Unix epoch, UTC) and a null mask."""
    null = ds.isna().to_numpy()
    if getattr(ds.dtype, "tz", None) is not None:
        ds = ds.dt.tz_convert(None)
    ticks = ds.to_numpy(dtype=f"datetime64[{resolution}]").view("i8").copy()
    ticks[null] = 0
    return ticks, null


def _spans(raw: np.ndarray, ids: pd.Series) -> np.ndarray:
    codes, _ = pd.factorize(ids, use_na_sentinel=False)
    n = int(codes.max()) + 1 if codes.size else 0
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    np.minimum.at(lo, codes, raw)
    np.maximum.at(hi, codes, raw)
    return hi - lo


def _ticks_per_unit(unit: str, resolution: str) -> float:
    return float(pd.Timedelta(1, unit=unit) / pd.Timedelta(1, unit=resolution))


def _median_span(raw: np.ndarray, ids: pd.Series) -> float:
    spans = _spans(raw, ids)
    spans = spans[np.isfinite(spans) & (spans > 0)]
    if spans.size == 0:
        return 1.0
    scale = float(np.median(spans))
    return scale if math.isfinite(scale) and scale > 0 else 1.0
