"""Inputs of ``NeuralODEDynamics``: trajectories and their windows, state and time
arguments."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from latentode.data import FrameLibrary, IrregularDataset, TimeEncoder, frame_library, to_pandas
from latentode.exceptions import LongFrameError, QueryError

__all__ = [
    "CHUNK",
    "arrays",
    "as_states",
    "as_times",
    "library_of",
    "trajectories",
    "window_starts",
]

#: Rows per batch when evaluating many windows / states at once.
CHUNK = 256


def trajectories(dataset: IrregularDataset) -> IrregularDataset:
    """Keep trajectories with >= 2 observation times; error when none has."""
    short = dataset.lengths < 2
    if not short.any():
        return dataset
    ids = [dataset.ids[i] for i in np.flatnonzero(short)]
    shown = ", ".join(repr(i) for i in ids[:5]) + (" ..." if len(ids) > 5 else "")
    if short.all():
        raise LongFrameError(
            f"Expected trajectories with at least 2 observation times to learn dynamics "
            f"from; got {len(ids)} trajectory(ies) with a single time each ({shown}). Pass "
            "several observations per trajectory (one id per trajectory in the id column)."
        )
    warnings.warn(
        f"{len(ids)} trajectory(ies) have a single observation time and are ignored: {shown}.",
        UserWarning,
        stacklevel=4,  # user → fit → _prepare → here
    )
    return dataset.subset(np.flatnonzero(~short))


def window_starts(lengths: np.ndarray, stride: int, device: torch.device) -> torch.Tensor:
    """``(n_windows, 2)`` long tensor of (series, first observation) pairs."""
    pairs = [
        (i, k) for i, n in enumerate(lengths.tolist()) for k in range(0, max(n - 1, 1), stride)
    ]
    return torch.as_tensor(pairs, dtype=torch.long, device=device).reshape(-1, 2)


def library_of(obj: Any, default: FrameLibrary) -> FrameLibrary:
    try:
        return frame_library(obj)
    except LongFrameError:
        return default


def arrays(dataset: IrregularDataset) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return [(s.times, s.values, s.mask) for s in dataset]


def as_states(
    states: Any, feature_cols: Sequence[str], id_col: str
) -> tuple[np.ndarray, list[Any] | None]:
    """States ``(n, D)`` float64 (finite) from an array or a frame, and the frame's ids."""
    ids = None
    d = len(feature_cols)
    try:
        library = frame_library(states)
    except LongFrameError:
        library = None
    if library is not None:
        pdf = to_pandas(states)
        missing = [c for c in feature_cols if c not in pdf.columns]
        if missing:
            raise QueryError(
                f"Expected the state columns {list(feature_cols)} in the frame of states; "
                f"{missing} are missing. Name the columns as in the training data."
            )
        x = pdf[list(feature_cols)].to_numpy(dtype=np.float64, na_value=np.nan)
        ids = pdf[id_col].tolist() if id_col in pdf.columns else None
    else:
        try:
            x = np.array(states, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise QueryError(
                f"Expected states as numbers of shape (n_states, {d}); got {type(states)!r} "
                "that cannot be converted to a float array."
            ) from exc
        if x.ndim == 1 and x.shape[0] == d:
            x = x.reshape(1, d)
    if x.ndim != 2 or x.shape[1] != d or x.shape[0] == 0:
        raise QueryError(
            f"Expected states of shape (n_states, {d}) for the state columns "
            f"{list(feature_cols)}; got shape {x.shape}. Pass one row per state."
        )
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise QueryError(
            f"Expected finite states; got {int(bad.sum())} row(s) with NaN or infinite "
            f"values (first at row {int(np.flatnonzero(bad)[0])}). A state must be fully "
            "known to evaluate or integrate the field: fill or drop those rows."
        )
    return x, ids


def as_times(t: Any, encoder: TimeEncoder, *, allow_scalar: bool) -> np.ndarray:
    """Normalised float64 times ``(n,)`` from numbers, datetimes or a Series / Index."""
    if isinstance(t, (pd.Series, pd.Index)):
        series = pd.Series(t).reset_index(drop=True)
    elif np.ndim(t) == 0:
        if not allow_scalar:
            raise QueryError(
                f"Expected an array of times; got the single value {t!r}. Pass e.g. "
                "np.linspace(t0, t1, n)."
            )
        series = pd.Series([t])
    else:
        series = pd.Series(np.asarray(t).reshape(-1))
    if len(series) == 0:
        raise QueryError("Expected at least one time; got an empty array.")
    tn = encoder.encode(series)
    if not np.isfinite(tn).all():
        raise QueryError(
            f"Expected finite times; got {int((~np.isfinite(tn)).sum())} NaN, NaT or "
            "infinite time(s)."
        )
    return tn
