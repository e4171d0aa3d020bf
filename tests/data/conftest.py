"""Fixtures for the data-layer tests: small long frames in pandas and polars."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest


def _make_long(
    n_series: int = 3,
    n_points: int = 5,
    *,
    seed: int = 0,
    datetime: bool = False,
    tz: str | None = None,
    missing: float = 0.0,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        k = n_points + i  # uneven lengths
        t = np.sort(rng.choice(np.arange(1000), size=k, replace=False)).astype(float) / 10
        rows.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{i}",
                    "ds": t + i,
                    "y": rng.normal(size=k) * (i + 1) + 10,
                    "z": rng.normal(size=k),
                }
            )
        )
    df = pd.concat(rows, ignore_index=True)
    if missing:
        holes = rng.random((len(df), 2)) < missing
        holes[holes.all(axis=1), 0] = False  # keep at least one observed feature per row
        df.loc[holes[:, 0], "y"] = np.nan
        df.loc[holes[:, 1], "z"] = np.nan
    if datetime:
        ds = pd.Timestamp("2024-03-01") + pd.to_timedelta(df["ds"] * 3600, unit="s")
        df["ds"] = ds.dt.tz_localize(tz) if tz else ds
    return df


@pytest.fixture
def make_long() -> Callable[..., pd.DataFrame]:
    """Build a long pandas frame: series 's0', 's1', ... with features 'y', 'z'."""
    return _make_long


@pytest.fixture
def long_df() -> pd.DataFrame:
    return _make_long(missing=0.2)
