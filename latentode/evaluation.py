"""Evaluation helpers: hold-out splits of long frames, simple baselines and metrics.

Used by the CLI demo and the benchmarks; they work on pandas long frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "extrapolation_split",
    "interpolation_split",
    "last_value_baseline",
    "linear_interpolation_baseline",
    "masked_mse",
]


def interpolation_split(
    df: pd.DataFrame, *, fraction: float = 0.2, id_col: str = "unique_id", random_state: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hide a random ``fraction`` of each series' rows (never its first or last).

    Returns ``(history, held_out)``.
    """
    rng = np.random.default_rng(random_state)
    hide = np.zeros(len(df), dtype=bool)
    for idx in df.groupby(id_col, sort=False).indices.values():
        inner = idx[1:-1]
        k = round(fraction * len(idx))
        if k and len(inner):
            hide[rng.choice(inner, size=min(k, len(inner)), replace=False)] = True
    return df[~hide].reset_index(drop=True), df[hide].reset_index(drop=True)


def extrapolation_split(
    df: pd.DataFrame, *, fraction: float = 0.3, id_col: str = "unique_id", time_col: str = "ds"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut each series at ``1 - fraction`` of its time span: ``(history, future)``."""
    t = df[time_col]
    start = df.groupby(id_col, sort=False)[time_col].transform("min")
    end = df.groupby(id_col, sort=False)[time_col].transform("max")
    cut = start + (end - start) * (1.0 - fraction)
    future = (t > cut).to_numpy()
    return df[~future].reset_index(drop=True), df[future].reset_index(drop=True)


def _numeric_time(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("int64").to_numpy(dtype=np.float64)
    return values.to_numpy(dtype=np.float64)


def linear_interpolation_baseline(
    history: pd.DataFrame,
    query: pd.DataFrame,
    features: list[str],
    *,
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> pd.DataFrame:
    """Per-series linear interpolation of observed values (flat beyond the ends)."""
    out = query[[id_col, time_col]].copy()
    groups = history.groupby(id_col, sort=False)
    for feature in features:
        values = np.full(len(query), np.nan)
        for sid, rows in query.groupby(id_col, sort=False).indices.items():
            h = groups.get_group(sid)
            h = h[h[feature].notna()]
            if len(h):
                values[rows] = np.interp(
                    _numeric_time(query[time_col].iloc[rows]),
                    _numeric_time(h[time_col]),
                    h[feature].to_numpy(dtype=np.float64),
                )
        out[feature] = values
    return out


def last_value_baseline(
    history: pd.DataFrame,
    query: pd.DataFrame,
    features: list[str],
    *,
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> pd.DataFrame:
    """Last observation carried forward, per series and feature."""
    out = query[[id_col, time_col]].copy()
    ordered = history.sort_values([id_col, time_col])
    for feature in features:
        last = ordered.dropna(subset=[feature]).groupby(id_col)[feature].last()
        out[feature] = query[id_col].map(last).to_numpy(dtype=np.float64)
    return out


def masked_mse(pred: pd.DataFrame, truth: pd.DataFrame, features: list[str]) -> float:
    """Mean squared error over the entries observed in ``truth`` (rows aligned)."""
    p = pred[features].to_numpy(dtype=np.float64)
    t = truth[features].to_numpy(dtype=np.float64)
    ok = np.isfinite(t)
    return float(np.mean((p[ok] - t[ok]) ** 2))
