"""Known time-varying covariates: columns of a long frame whose values are set, not predicted.

An infusion rate, a dose or a planned schedule rides along in the long frame as a column.
:class:`CovariateEncoder` checks those columns like features (numeric, finite, one row per
time), standardises them and hands out, for each series of a dataset, the *path* of its
values: the rows' times (normalised by the feature encoder's time mapping) and the values
from each row on, filled forward where a row leaves one covariate NaN.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

import numpy as np

from latentode.data._spec import LongFrameSpec
from latentode.data._time import TimeEncoder
from latentode.data._validation import LongArrays, read_long_frame
from latentode.exceptions import LongFrameError

__all__ = ["CovariateEncoder", "CovariatePath"]


class CovariatePath(NamedTuple):
    """One series' covariates: ``times`` ``(K,)`` float64 (normalised, increasing) and
    ``values`` ``(K, C)`` float32 (standardised), each row holding until the next."""

    times: np.ndarray
    values: np.ndarray


def _shown(ids: Sequence[Any]) -> str:
    return ", ".join(repr(i) for i in ids[:5]) + (" ..." if len(ids) > 5 else "")


class CovariateEncoder:
    """Fitted standardisation of known time-varying covariate columns.

    Parameters
    ----------
    id_col, time_col : str
    covariate_cols : sequence of str
        The covariate columns, in the order the model sees them.
    """

    def __init__(self, id_col: str, time_col: str, covariate_cols: Sequence[str]) -> None:
        self.id_col = id_col
        self.time_col = time_col
        self.covariate_cols = tuple(covariate_cols)
        self.mean_ = np.zeros(len(self.covariate_cols))
        self.scale_ = np.ones(len(self.covariate_cols))

    def _read(self, df: Any, time_encoder: TimeEncoder | None, what: str) -> LongArrays:
        spec = LongFrameSpec(self.id_col, self.time_col, self.covariate_cols)
        try:
            return read_long_frame(
                df, spec, feature_cols=self.covariate_cols, time_encoder=time_encoder, what=what
            )
        except LongFrameError as exc:
            raise LongFrameError(
                f"In the covariate columns {list(self.covariate_cols)}: {exc}"
            ) from exc

    def fit(self, df: Any) -> CovariateEncoder:
        """Learn the mean and scale of each covariate over the rows of ``df`` that hold it."""
        arrays = self._read(df, None, "the frame passed to fit")
        never = [c for c, col in zip(self.covariate_cols, arrays.values.T) if np.isnan(col).all()]
        if never:
            raise LongFrameError(
                f"The covariate column(s) {never} of the frame passed to fit hold no value."
            )
        self.mean_ = np.nanmean(arrays.values, axis=0)
        std = np.nanstd(arrays.values, axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        return self

    def transform(
        self, df: Any, ids: Sequence[Hashable], time_encoder: TimeEncoder
    ) -> list[CovariatePath]:
        """The covariate path of each series in ``ids`` (in that order) read from ``df``.

        Raises
        ------
        LongFrameError
            If a covariate column is missing or malformed, or a series of ``ids`` has no
            value of a covariate in ``df``.
        """
        arrays = self._read(df, time_encoder, "the frame")
        times = time_encoder.encode(arrays.ds)
        scaled = (arrays.values - self.mean_) / self.scale_
        bounds = np.cumsum(arrays.counts)[:-1]
        by_id = dict(zip(arrays.ids, zip(np.split(times, bounds), np.split(scaled, bounds))))
        absent = [i for i in ids if i not in by_id]
        if absent:
            raise LongFrameError(
                f"Expected values of the covariate(s) {list(self.covariate_cols)} for every "
                f"series; {len(absent)} series have none ({_shown(absent)}). Give each series "
                "its covariates' values (e.g. the infusion rate from its start)."
            )
        paths = []
        for sid in ids:
            t, v = by_id[sid]
            seen = ~np.isnan(v)
            never = [c for c, s in zip(self.covariate_cols, seen.any(0)) if not s]
            if never:
                raise LongFrameError(
                    f"Series {sid!r} has no value of the covariate(s) {never}; every series "
                    "needs at least one value of each covariate."
                )
            paths.append(CovariatePath(t, _fill(v, seen).astype(np.float32)))
        return paths

    def to_dict(self) -> dict[str, Any]:
        return {
            "id_col": self.id_col,
            "time_col": self.time_col,
            "covariate_cols": list(self.covariate_cols),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CovariateEncoder:
        enc = cls(str(d["id_col"]), str(d["time_col"]), [str(c) for c in d["covariate_cols"]])
        enc.mean_ = np.asarray(d["mean"], dtype=np.float64)
        enc.scale_ = np.asarray(d["scale"], dtype=np.float64)
        return enc


def _fill(values: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Each column's NaNs filled with its last value before them (its first value before
    its first one)."""
    k = values.shape[0]
    last = np.where(seen, np.arange(k)[:, None], -1)
    np.maximum.accumulate(last, axis=0, out=last)
    first = seen.argmax(axis=0)  # every column has a value (checked by the caller)
    rows = np.where(last < 0, first[None, :], last)
    return np.take_along_axis(values, rows, axis=0)
