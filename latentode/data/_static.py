"""Static covariates: per-series columns of a long frame that do not change over time.

Age, sex or a device type ride along in the long frame as columns that hold one value per
series (repeated on each of its rows). :class:`StaticEncoder` checks them (present,
numeric, known and constant within each series), standardises them and hands them out in
the order of a dataset's series; :func:`drop_columns` removes them from the frame so the
feature encoder does not see them.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from latentode.data._frames import frame_library, to_pandas
from latentode.exceptions import LongFrameError

__all__ = ["StaticEncoder", "drop_columns"]


def drop_columns(df: Any, columns: Sequence[str]) -> Any:
    """``df`` (pandas or polars) without ``columns`` (those it has); never modifies ``df``."""
    present = [c for c in columns if c in df.columns]
    if not present:
        return df
    if frame_library(df) == "polars":
        return df.drop(present)
    return df.drop(columns=present)


def _shown(ids: Sequence[Any]) -> str:
    return ", ".join(repr(i) for i in ids[:5]) + (" ..." if len(ids) > 5 else "")


class StaticEncoder:
    """Fitted standardisation of static covariate columns.

    Parameters
    ----------
    id_col : str
    static_cols : sequence of str
        The static columns, in the order the model sees them.
    """

    def __init__(self, id_col: str, static_cols: Sequence[str]) -> None:
        self.id_col = id_col
        self.static_cols = tuple(static_cols)
        self.mean_ = np.zeros(len(self.static_cols))
        self.scale_ = np.ones(len(self.static_cols))

    def _values(self, df: Any, what: str) -> pd.DataFrame:
        """One row of static values per series (index: ids in order of appearance)."""
        frame = to_pandas(df)
        missing = [c for c in (self.id_col, *self.static_cols) if c not in frame.columns]
        if missing:
            raise LongFrameError(
                f"Expected the static covariate column(s) {missing} in {what}; it has "
                f"{list(frame.columns)}. Add them (one value per series, repeated on its rows)."
            )
        for col in self.static_cols:
            if not pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(
                frame[col]
            ):
                raise LongFrameError(
                    f"Expected a numeric static covariate column {col!r} in {what}; got dtype "
                    f"{frame[col].dtype}. Encode categories as numbers (e.g. one-hot columns)."
                )
        groups = frame.groupby(self.id_col, sort=False)[list(self.static_cols)]
        first, low, high = groups.first(), groups.min(), groups.max()
        for col in self.static_cols:
            unknown = first.index[first[col].isna()].tolist()
            if unknown:
                raise LongFrameError(
                    f"Expected a value of the static covariate {col!r} for every series in "
                    f"{what}; {len(unknown)} series have none ({_shown(unknown)}). Fill them "
                    "(e.g. with the training mean and an indicator column) or drop them."
                )
            rows = frame[col].to_numpy(dtype=np.float64)
            if not np.isfinite(rows[~np.isnan(rows)]).all():
                raise LongFrameError(
                    f"Expected finite values of the static covariate {col!r} in {what}; "
                    "got infinite values."
                )
            varying = first.index[(high[col] - low[col]).abs() > 0].tolist()
            if varying:
                raise LongFrameError(
                    f"Expected the static covariate {col!r} to hold one value per series in "
                    f"{what}; it changes over time in {len(varying)} series "
                    f"({_shown(varying)}). Pass time-varying values as a feature column."
                )
        return first.astype(np.float64)

    def fit(self, df: Any) -> StaticEncoder:
        """Learn the mean and scale of each static column over the series of ``df``."""
        values = self._values(df, "the frame passed to fit").to_numpy()
        self.mean_ = values.mean(axis=0)
        std = values.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        return self

    def transform(self, df: Any, ids: Sequence[Hashable]) -> np.ndarray:
        """Standardised static values ``(len(ids), n_static)`` float32 of the series ``ids``."""
        table = self._values(df, "the frame")
        absent = [i for i in ids if i not in table.index]
        if absent:
            raise LongFrameError(
                f"Expected static covariates for every series; {len(absent)} series have "
                f"none ({_shown(absent)})."
            )
        values = table.loc[list(ids)].to_numpy()
        return ((values - self.mean_) / self.scale_).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id_col": self.id_col,
            "static_cols": list(self.static_cols),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StaticEncoder:
        enc = cls(str(d["id_col"]), [str(c) for c in d["static_cols"]])
        enc.mean_ = np.asarray(d["mean"], dtype=np.float64)
        enc.scale_ = np.asarray(d["scale"], dtype=np.float64)
        return enc
