"""Query planning: the normalised times to predict at, from a query frame or a horizon.

:func:`plan_queries` matches a frame of (id, time) rows against a history and sorts each
series' query times, keeping the way back to the caller's rows in two reserved columns
(:data:`SERIES_IDX_COL`, :data:`QUERY_IDX_COL`); :func:`horizon_grid` lays an even grid of
future times after each series' last observation. Both back the public methods
:meth:`LongFrameEncoder.query_times <latentode.data.LongFrameEncoder.query_times>` and
:meth:`~latentode.data.LongFrameEncoder.horizon_times`, which document them in full.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from latentode.data._series import IrregularDataset
from latentode.data._spec import LongFrameSpec
from latentode.data._time import TimeEncoder
from latentode.data._validation import read_query_frame
from latentode.exceptions import QueryError

__all__ = ["QUERY_IDX_COL", "SERIES_IDX_COL", "horizon_grid", "plan_queries", "rows_in_order"]

SERIES_IDX_COL = "_series_idx"
QUERY_IDX_COL = "_query_idx"


def plan_queries(
    at_df: Any, dataset: IrregularDataset, spec: LongFrameSpec, time_encoder: TimeEncoder
) -> tuple[list[np.ndarray], pd.DataFrame]:
    """Sorted normalised query times per series of ``dataset``, and the annotated query frame.

    Parameters
    ----------
    at_df : pandas.DataFrame or polars.DataFrame
        Query rows with the id and time columns of ``spec``.
    dataset : IrregularDataset
        The history the queries refer to.
    spec : LongFrameSpec
    time_encoder : TimeEncoder
        The fitted time mapping.

    Returns
    -------
    times : list of numpy.ndarray
        Aligned with ``dataset.ids`` (see :meth:`LongFrameEncoder.query_times`).
    frame : pandas.DataFrame
        ``at_df`` as pandas plus the int64 columns ``_series_idx`` and ``_query_idx``.
    """
    pdf, _ = read_query_frame(at_df, spec, time_encoder)
    if len(pdf) == 0:
        raise QueryError("Expected at least one row in the query frame 'at'; got 0.")
    clash = [c for c in (SERIES_IDX_COL, QUERY_IDX_COL) if c in pdf.columns]
    if clash:
        raise QueryError(
            f"The query frame 'at' must not have the reserved column(s) {clash!r}; "
            "rename or drop them."
        )
    index = pd.Index(dataset.ids)
    if not index.is_unique:
        raise QueryError(
            "Expected distinct series ids in the history to match queries against; "
            "got repeated ids."
        )
    at_ids = pdf[spec.id_col].reset_index(drop=True)
    series_idx = index.get_indexer(at_ids)
    unknown = series_idx < 0
    if unknown.any():
        names = pd.unique(at_ids[unknown]).tolist()
        shown = ", ".join(repr(v) for v in names[:5])
        raise QueryError(
            f"{len(names)} series id(s) in the query frame 'at' have no history: "
            f"{shown}{' ...' if len(names) > 5 else ''}. Every queried series must "
            "appear in the frame passed alongside 'at'."
        )
    t = time_encoder.encode(pdf[spec.time_col].reset_index(drop=True))
    order = np.lexsort((t, series_idx))
    counts = np.bincount(series_idx, minlength=len(dataset))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_series = series_idx[order]
    query_idx = np.empty(len(t), dtype=np.int64)
    query_idx[order] = np.arange(len(t)) - starts[sorted_series]
    times = np.split(t[order], np.cumsum(counts)[:-1])
    frame = pdf.reset_index(drop=True)
    frame[SERIES_IDX_COL] = series_idx.astype(np.int64)
    frame[QUERY_IDX_COL] = query_idx
    return [np.ascontiguousarray(x) for x in times], frame


def horizon_grid(
    dataset: IrregularDataset, horizon: Any, n_points: int, time_encoder: TimeEncoder
) -> list[np.ndarray]:
    """``last + h * arange(1, n_points + 1) / n_points`` for each series of ``dataset``.

    ``h`` is ``horizon`` (raw time units) normalised by ``time_encoder``; see
    :meth:`LongFrameEncoder.horizon_times`.
    """
    if (
        isinstance(n_points, (bool, np.bool_))
        or not isinstance(n_points, (int, np.integer))
        or n_points < 1
    ):
        raise QueryError(f"Expected 'n_points' to be an int >= 1; got {n_points!r}.")
    h = time_encoder.encode_delta(horizon)
    if not h > 0:
        raise QueryError(f"Expected a positive 'horizon'; got {horizon!r}.")
    steps = h * np.arange(1, int(n_points) + 1, dtype=np.float64) / int(n_points)
    return [s.last_time + steps for s in dataset]


def rows_in_order(order: pd.DataFrame, key_cols: list[str], columns: Any) -> pd.DataFrame:
    """Per-series column values (in each series' sorted query order) as rows in the order
    of the query frame ``order`` (from :func:`plan_queries`), after its key columns."""
    out = order[key_cols].reset_index(drop=True).copy()
    s_idx = order[SERIES_IDX_COL].to_numpy()
    q_idx = order[QUERY_IDX_COL].to_numpy()
    for name, per_series in columns.items():
        flat = np.concatenate([np.asarray(a, dtype=np.float64) for a in per_series])
        offsets = np.concatenate([[0], np.cumsum([len(a) for a in per_series])[:-1]])
        out[name] = flat[offsets.astype(int)[s_idx] + q_idx]
    return out
