"""Output frames and data summaries shared by the estimators."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from latentode.data import (
    QUERY_IDX_COL,
    SERIES_IDX_COL,
    IrregularDataset,
    LongFrameEncoder,
    from_pandas,
)

__all__ = ["output_frame", "series_summary"]


def output_frame(
    data: LongFrameEncoder,
    key_cols: tuple[str, str],
    ids: Sequence[Hashable],
    queries: list[np.ndarray],
    order: pd.DataFrame | None,
    columns: dict[str, list[np.ndarray]],
    library: str,
) -> Any:
    """A long output frame from per-series column values at per-series query times.

    Rows go in the order of the query frame ``order`` (see
    :meth:`~latentode.data.LongFrameEncoder.query_times`) or, when it is None (a horizon
    grid), series by series; ``key_cols`` are the id and time column names.
    """
    if order is None:
        return data.decode_frame(list(ids), queries, columns, library)
    out = order[list(key_cols)].reset_index(drop=True).copy()
    s_idx = order[SERIES_IDX_COL].to_numpy()
    q_idx = order[QUERY_IDX_COL].to_numpy()
    for name, per_series in columns.items():
        flat = np.concatenate([np.asarray(a, dtype=np.float64) for a in per_series])
        offsets = np.concatenate([[0], np.cumsum([len(a) for a in per_series])[:-1]])
        out[name] = flat[offsets[s_idx] + q_idx]
    return from_pandas(out, library)


def series_summary(
    train: IrregularDataset,
    val: IrregularDataset | None,
    features: Sequence[str],
    time_span: float,
) -> dict[str, Any]:
    """What the training data looked like (logged by tracking callbacks)."""
    parts = [p for p in (train, val) if p is not None and len(p)]
    n_rows = sum(int(p.lengths.sum()) for p in parts)
    n_obs = sum(p.n_observations for p in parts)
    return {
        "n_series": sum(len(p) for p in parts),
        "n_train_series": len(train),
        "n_val_series": 0 if val is None else len(val),
        "n_rows": n_rows,
        "n_observations": int(n_obs),
        "missing_fraction": 1.0 - n_obs / max(n_rows * len(features), 1),
        "time_span": float(time_span),
        "features": list(features),
    }
