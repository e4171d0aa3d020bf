"""Long-frame plumbing shared by the estimators: fitting the frame encoder, splitting off
validation series, output frames and data summaries."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from latentode.data import (
    IrregularDataset,
    LongFrameEncoder,
    LongFrameSpec,
    StaticEncoder,
)
from latentode.estimators._base import Fitted

__all__ = [
    "ENCODER",
    "STATIC",
    "fit_encoder",
    "series_summary",
    "split_dataset",
    "split_series",
]

logger = logging.getLogger(__name__)

#: How a fitted long-frame encoder and an optional static encoder are saved.
ENCODER = Fitted(lambda e: e.to_dict(), LongFrameEncoder.from_dict)
STATIC = Fitted(
    lambda e: None if e is None else e.to_dict(), StaticEncoder.from_dict, optional=True
)


def split_series(
    n_series: int, fraction: float, enabled: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation series (validation empty when disabled)."""
    order = np.random.default_rng(seed).permutation(n_series)
    n_val = round(fraction * n_series) if enabled else 0
    if enabled and (n_val < 1 or n_series - n_val < 1):
        logger.warning(
            "Only %d series: too few to hold out a validation set; early stopping is off.",
            n_series,
        )
        n_val = 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def fit_encoder(params: Any, X: Any) -> LongFrameEncoder:
    """The long-frame encoder (columns, time mapping, feature transforms and scaling) that
    ``params`` (an estimator's ``id_col``, ``time_col``, ``feature_cols``, ``time_unit``
    and, where it has them, ``feature_transforms``) fit on ``X``."""
    feature_cols = None if params.feature_cols is None else tuple(params.feature_cols)
    spec = LongFrameSpec(params.id_col, params.time_col, feature_cols)
    transforms = getattr(params, "feature_transforms", None)
    return LongFrameEncoder(spec, time_unit=params.time_unit, transforms=transforms).fit(X)


def split_dataset(
    dataset: IrregularDataset, params: Any, seed: int
) -> tuple[IrregularDataset, IrregularDataset | None]:
    """Training and validation series (None without early stopping or too few series)."""
    train_idx, val_idx = split_series(
        len(dataset), params.validation_fraction, params.early_stopping, seed
    )
    return dataset.subset(train_idx), dataset.subset(val_idx) if len(val_idx) else None


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
