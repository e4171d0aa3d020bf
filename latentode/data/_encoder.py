"""The fitted bridge between long frames and per-series arrays: :class:`LongFrameEncoder`."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from latentode.data._decode import decode_long_frame
from latentode.data._frames import FrameLibrary, from_pandas
from latentode.data._queries import horizon_grid, plan_queries, rows_in_order
from latentode.data._scaling import FeatureScaler
from latentode.data._series import IrregularDataset, Series
from latentode.data._spec import LongFrameSpec
from latentode.data._time import TimeEncoder, check_time_unit
from latentode.data._transforms import TRANSFORMS, FeatureTransforms
from latentode.data._validation import LongArrays, read_long_frame
from latentode.exceptions import LongFrameError, QueryError

__all__ = ["LongFrameEncoder"]

logger = logging.getLogger(__name__)

_FORMAT = "latentode.LongFrameEncoder"
_VERSION = 1


class LongFrameEncoder:
    """Fitted conversion between long frames and :class:`IrregularDataset`.

    ``fit`` learns the feature columns, a :class:`TimeEncoder` (time origin and scale) and a
    :class:`FeatureScaler`; ``transform`` validates a frame and turns it into per-series
    normalised times, scaled values and observation masks. Query helpers build the
    normalised times to predict at, and :meth:`decode_frame` turns per-series predictions
    back into a long frame of the caller's library.

    Parameters
    ----------
    spec : LongFrameSpec or None, default None
        Column names (None means ``LongFrameSpec()``).
    time_unit : {"s", "min", "h", "D", "W"} or None, default None
        Unit of datetime times before normalisation (None means days).
    transforms : mapping of str to str or None, default None
        Per-feature value transforms (``{"conc": "log"}``; see
        :mod:`latentode.data._transforms`): values are transformed before the scaling and
        mapped back by :meth:`inverse_values`.

    Attributes
    ----------
    feature_cols_ : tuple of str
        Feature columns resolved in ``fit``.
    time_ : TimeEncoder
        Fitted time mapping.
    scaler_ : FeatureScaler
        Fitted feature standardisation (of the transformed values).
    transforms_ : FeatureTransforms
        The transform of each feature (None: identity).
    library_ : {"pandas", "polars"}
        Library of the frame seen in ``fit``.

    Notes
    -----
    Validation raises :class:`~latentode.exceptions.LongFrameError` for: an input that is
    not a pandas / polars frame; an empty frame; a missing id, time or feature column; a
    non-numeric feature column; a time column that is neither numeric nor datetime (or of
    another kind than in ``fit``); null ids; null or infinite times; infinite feature
    values; a series with no observed value; duplicate timestamps within a series.
    ``NaN`` feature values mean "unobserved"; rows whose features are all NaN are dropped.
    Unsorted rows are sorted. Input frames are never modified.
    """

    def __init__(
        self,
        spec: LongFrameSpec | None = None,
        time_unit: str | None = None,
        transforms: Mapping[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.time_unit = time_unit
        self.transforms = transforms

    # ------------------------------------------------------------------ fitting
    @property
    def _spec(self) -> LongFrameSpec:
        return LongFrameSpec() if self.spec is None else self.spec

    def fit(self, df: Any) -> LongFrameEncoder:
        """Learn feature columns, time mapping and feature scaling from a long frame.

        Parameters
        ----------
        df : pandas.DataFrame or polars.DataFrame
            Long frame with the id, time and feature columns of ``spec``.

        Returns
        -------
        LongFrameEncoder
            ``self``, fitted.

        Raises
        ------
        LongFrameError
            If the frame is malformed.
        ParameterError
            If ``time_unit`` is invalid.
        """
        self._fit_arrays(df)
        return self

    def transform(self, df: Any) -> IrregularDataset:
        """Validate a long frame and convert it to an :class:`IrregularDataset`.

        Parameters
        ----------
        df : pandas.DataFrame or polars.DataFrame
            Long frame with the fitted feature columns (extra columns are ignored).

        Returns
        -------
        IrregularDataset
            One series per id, in order of first appearance in ``df``; times normalised and
            strictly increasing, values scaled (0.0 where unobserved), masks.

        Raises
        ------
        LongFrameError
            If the frame is malformed or does not match the fitted columns / time kind.
        sklearn.exceptions.NotFittedError
            If the encoder is not fitted.
        """
        self._check_fitted()
        arrays = read_long_frame(
            df,
            self._spec,
            feature_cols=self.feature_cols_,
            time_encoder=self.time_,
            what="the frame",
        )
        return self._to_dataset(arrays)

    def fit_transform(self, df: Any) -> IrregularDataset:
        """Fit on ``df`` and return its :class:`IrregularDataset` (same as fit + transform)."""
        return self._to_dataset(self._fit_arrays(df))

    def _fit_arrays(self, df: Any) -> LongArrays:
        check_time_unit(self.time_unit)
        if not isinstance(self._spec, LongFrameSpec):
            raise LongFrameError(
                f"Expected 'spec' to be a LongFrameSpec or None; got {type(self.spec)!r}."
            )
        arrays = read_long_frame(df, self._spec, what="the frame passed to fit")
        never = [
            c for c, seen in zip(arrays.feature_cols, (~np.isnan(arrays.values)).any(0)) if not seen
        ]
        if never:
            raise LongFrameError(
                f"Feature column(s) {never} of the frame passed to fit are never observed "
                "(all values NaN): nothing can be learned about them. Drop them or pass "
                "'feature_cols' without them."
            )
        try:
            transforms = FeatureTransforms.fit(self.transforms, arrays.feature_cols, arrays.values)
        except ValueError as exc:
            raise LongFrameError(str(exc)) from None
        self.feature_cols_ = arrays.feature_cols
        self.transforms_ = transforms
        values = self._transformed(arrays, "the frame passed to fit")
        self.time_ = TimeEncoder.fit(arrays.ds, pd.Series(arrays.codes), self.time_unit)
        self.scaler_ = FeatureScaler.fit(values)
        self.library_: FrameLibrary = arrays.library
        logger.debug(
            "LongFrameEncoder fitted on %d series, %d rows, features %s",
            len(arrays.ids),
            len(arrays.codes),
            self.feature_cols_,
        )
        return arrays

    def _transformed(self, arrays: LongArrays, what: str) -> np.ndarray:
        """``arrays.values`` through the feature transforms; a value outside its
        transform's domain is refused, naming its series, time and column."""
        transforms = self._transforms
        if not transforms.any:
            return arrays.values
        bad = transforms.out_of_domain(arrays.values)
        if bad.any():
            row, d = (int(i[0]) for i in np.nonzero(bad))
            kind = transforms.kinds[d]
            lo, hi = TRANSFORMS[str(kind)]
            need = {"log": "> 0", "log1p": "> -1", "logit": "strictly between 0 and 1"}
            series = arrays.ids[int(arrays.codes[row])]
            raise LongFrameError(
                f"Column {self.feature_cols_[d]!r} of {what} has the transform {kind!r}, "
                f"which needs values {need.get(str(kind), f'in ({lo}, {hi})')}; series "
                f"{series!r} has {float(arrays.values[row, d]):g} at time {arrays.ds.iloc[row]} "
                f"({int(bad[:, d].sum())} such value(s) in all). Drop or fix them, mark them "
                "unobserved (NaN), or choose another transform (log1p allows zeros)."
            )
        return transforms.forward(arrays.values)

    @property
    def _transforms(self) -> FeatureTransforms:
        """The fitted transforms (identity for encoders saved before they existed)."""
        fitted = self.__dict__.get("transforms_")
        return fitted if fitted is not None else FeatureTransforms((None,) * self.n_features_)

    def _to_dataset(self, arrays: LongArrays, what: str = "the frame") -> IrregularDataset:
        times = self.time_.encode(arrays.ds)
        mask = ~np.isnan(arrays.values)
        scaled = self.scaler_.transform(self._transformed(arrays, what))
        values = np.where(mask, scaled, 0.0).astype(np.float32)
        bounds = np.cumsum(arrays.counts)[:-1]
        series = [
            Series(id=sid, times=t, values=v, mask=m)
            for sid, t, v, m in zip(
                arrays.ids,
                np.split(times, bounds),
                np.split(values, bounds),
                np.split(mask, bounds),
            )
        ]
        return IrregularDataset(series, n_features=len(self.feature_cols_))

    # ------------------------------------------------------------------ queries
    def query_times(
        self, at_df: Any, dataset: IrregularDataset
    ) -> tuple[list[np.ndarray], pd.DataFrame]:
        """Normalised query times per series, from a frame of (id, time) rows.

        Parameters
        ----------
        at_df : pandas.DataFrame or polars.DataFrame
            Query rows with the id and time columns (other columns are kept as they are).
        dataset : IrregularDataset
            The history the queries refer to.

        Returns
        -------
        times : list of numpy.ndarray
            Aligned with ``dataset.ids``: the sorted normalised query times of each series
            (duplicates kept; empty for a series without query).
        frame : pandas.DataFrame
            ``at_df`` as pandas, rows in their original order, plus int64 columns
            ``_series_idx`` (position of the series in ``dataset``) and ``_query_idx``
            (position of the row's time in ``times[_series_idx]``).

        Raises
        ------
        QueryError
            If ``at_df`` has no row, names ids absent from ``dataset``, or ``dataset`` has
            repeated ids.
        LongFrameError
            If ``at_df`` is not a frame, misses the id / time column, holds nulls, or its
            time kind differs from the fitted one.
        """
        self._check_fitted()
        return plan_queries(at_df, dataset, self._spec, self.time_)

    def horizon_times(
        self, dataset: IrregularDataset, horizon: Any, n_points: int
    ) -> list[np.ndarray]:
        """An even grid of future times after each series' last time.

        Parameters
        ----------
        dataset : IrregularDataset
            The history.
        horizon : float, int or timedelta
            Forecast horizon in **raw** time units (a number in the time column's units;
            for datetime times a number of ``time_unit`` or a timedelta).
        n_points : int
            Number of grid points (>= 1).

        Returns
        -------
        list of numpy.ndarray of shape (n_points,)
            Aligned with ``dataset.ids``: ``last + h * arange(1, n_points + 1) / n_points``
            with ``h`` the normalised horizon, i.e. times in (last, last + h].

        Raises
        ------
        QueryError
            If ``horizon`` is not a positive finite duration or ``n_points`` is not an int
            >= 1.
        """
        self._check_fitted()
        return horizon_grid(dataset, horizon, n_points, self.time_)

    def queries(
        self,
        dataset: IrregularDataset,
        at: Any = None,
        horizon: Any = None,
        n_points: int | None = None,
    ) -> tuple[list[np.ndarray], pd.DataFrame | None]:
        """The queries of a predict call: :meth:`query_times` of ``at``, or
        :meth:`horizon_times` (``n_points`` default 10); the second item is None for a
        horizon grid (its rows go series by series). Exactly one of the two must be given.
        """
        if at is not None:
            if horizon is not None or n_points is not None:
                raise QueryError("Pass either 'at' or 'horizon'/'n_points', not both.")
            return self.query_times(at, dataset)
        if horizon is None:
            raise QueryError(
                "Say where to predict: 'at' (a frame of id and time columns) or 'horizon' "
                "(how far past each series' last observation) with 'n_points'."
            )
        return self.horizon_times(dataset, horizon, 10 if n_points is None else n_points), None

    def answer_frame(
        self,
        ids: Sequence[Hashable],
        times: Sequence[np.ndarray],
        order: pd.DataFrame | None,
        columns: Mapping[str, Sequence[np.ndarray]],
        library: FrameLibrary | None = None,
    ) -> Any:
        """The output frame of a predict call planned by :meth:`queries`: rows in the order
        of the query frame (``order``), or series by series for a horizon grid."""
        if order is None:
            return self.decode_frame(ids, times, columns, library)
        keys = [self._spec.id_col, self._spec.time_col]
        out = rows_in_order(order, keys, columns)
        return from_pandas(out, self.library_ if library is None else library)

    # ------------------------------------------------------------------ decoding
    def decode_frame(
        self,
        ids: Sequence[Hashable],
        times: Sequence[np.ndarray],
        columns: Mapping[str, Sequence[np.ndarray]],
        library: FrameLibrary | None = None,
    ) -> Any:
        """Build a long output frame from per-series times and values.

        Parameters
        ----------
        ids : sequence
            Series ids, one per series.
        times : sequence of numpy.ndarray of shape (n_i,)
            Normalised times of each series.
        columns : mapping of str to sequence of numpy.ndarray of shape (n_i,)
            Output columns, per series, already in original units.
        library : {"pandas", "polars"} or None, default None
            Library of the result (None means the one seen in ``fit``).

        Returns
        -------
        pandas.DataFrame or polars.DataFrame
            Columns ``id_col, time_col, *columns``; times in the original dtype.

        Raises
        ------
        ValueError
            If lengths disagree or a column is named like the id / time column.
        """
        self._check_fitted()
        library = self.library_ if library is None else library
        return decode_long_frame(ids, times, columns, self._spec, self.time_, library)

    def inverse_values(self, arr: Any) -> Any:
        """Map scaled values back to original units (``scaler_.inverse_transform``, then
        the inverse feature transforms)."""
        self._check_fitted()
        out = self.scaler_.inverse_transform(arr)
        transforms = self._transforms
        return transforms.inverse(out) if transforms.any else out

    @property
    def has_transforms(self) -> bool:
        """Whether some feature has a value transform."""
        return self._is_fitted() and self._transforms.any

    def log_derivative(self, scaled: Any) -> Any:
        """``log |du/dx|`` per value of ``scaled`` values ``u`` ``(..., n_features)``
        (torch): the Jacobian term a density of the original values ``x`` adds to that of
        ``u`` (``-log std`` of the scaling plus the transform's ``log T'(x)``)."""
        self._check_fitted()
        log_std = torch.as_tensor(
            np.log(self.scaler_.std), dtype=scaled.dtype, device=scaled.device
        )
        transforms = self._transforms
        if not transforms.any:
            return (-log_std).expand_as(scaled)
        return transforms.log_derivative(self.scaler_.inverse_transform(scaled)) - log_std

    # ------------------------------------------------------------------ state
    @property
    def n_features_(self) -> int:
        """Number of features."""
        self._check_fitted()
        return len(self.feature_cols_)

    def _is_fitted(self) -> bool:
        return "scaler_" in self.__dict__

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                "This LongFrameEncoder is not fitted yet. Call 'fit' with a long frame first."
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters and fitted state as a dict of JSON types."""
        d: dict[str, Any] = {
            "format": _FORMAT,
            "version": _VERSION,
            "spec": self._spec.to_dict(),
            "time_unit": self.time_unit,
            "fitted": self._is_fitted(),
        }
        if self._is_fitted():
            d.update(
                feature_cols=list(self.feature_cols_),
                library=self.library_,
                time=self.time_.to_dict(),
                scaler=self.scaler_.to_dict(),
                transforms=self._transforms.to_dict(self.feature_cols_),
            )
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LongFrameEncoder:
        """Rebuild an encoder written by :meth:`to_dict`.

        Raises
        ------
        ValueError
            If ``d`` was not written by :meth:`to_dict` of a compatible version.
        """
        if d.get("format") != _FORMAT or d.get("version") != _VERSION:
            raise ValueError(
                f"Expected a dict written by LongFrameEncoder.to_dict (format {_FORMAT!r}, "
                f"version {_VERSION}); got format {d.get('format')!r}, "
                f"version {d.get('version')!r}."
            )
        fitted_transforms = d.get("transforms") or {}  # absent in encoders saved before them
        enc = cls(
            spec=LongFrameSpec.from_dict(d["spec"]),
            time_unit=d["time_unit"],
            transforms=fitted_transforms.get("kinds") or None,
        )
        if d.get("fitted"):
            enc.feature_cols_ = tuple(d["feature_cols"])
            enc.library_ = d["library"]
            enc.time_ = TimeEncoder.from_dict(d["time"])
            enc.scaler_ = FeatureScaler.from_dict(d["scaler"])
            enc.transforms_ = FeatureTransforms.from_dict(fitted_transforms, enc.feature_cols_)
        return enc

    def __repr__(self) -> str:
        return (
            f"LongFrameEncoder(spec={self.spec!r}, time_unit={self.time_unit!r}, "
            f"transforms={self.transforms!r})"
        )
