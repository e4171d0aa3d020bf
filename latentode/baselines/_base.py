"""The shared frame API of the baselines: :class:`BaselineForecaster`."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from latentode.data import (
    IrregularDataset,
    LongFrameEncoder,
    LongFrameSpec,
    check_levels,
    frame_library,
    from_pandas,
    intervals,
    merge_columns,
    to_pandas,
)
from latentode.exceptions import ParameterError, QueryError

__all__ = ["BaselineForecaster", "check_param"]


def check_param(
    est: object,
    name: str,
    kind: type | tuple[type, ...],
    low: float | None = None,
    high: float | None = None,
    *,
    allow_none: bool = False,
) -> None:
    """Raise ParameterError in the library's one format unless ``est.<name>`` is valid."""
    value = getattr(est, name)
    if allow_none and value is None:
        return
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if ok and isinstance(value, numbers.Real):
        ok = (
            math.isfinite(value)
            and (low is None or value >= low)
            and (high is None or value <= high)
        )
    if not ok:
        what = " or ".join(k.__name__ for k in kinds)
        rng = f" in the range [{low}, {'inf' if high is None else high}]" if low is not None else ""
        none = " or None" if allow_none else ""
        raise ParameterError(
            f"The '{name}' parameter of {type(est).__name__} must be a {what}{rng}{none}. "
            f"Got {value!r} instead."
        )


class BaselineForecaster(BaseEstimator):
    """Base of the baselines: frame validation, queries and output frames.

    Subclasses implement ``_fit(dataset)`` and ``_locate(dataset, queries)``, which returns
    per series a ``(k_i, D)`` location and a ``(k_i, D)`` scale in standardised units; the
    predictive distribution is ``location + scale · z`` with ``z`` from ``self.band_``
    (a :class:`ResidualBand`). Fitted attributes common to all: ``data_``
    (:class:`~latentode.data.LongFrameEncoder`), ``feature_cols_``, ``band_``.
    """

    id_col: str
    time_col: str
    feature_cols: Sequence[str] | None
    time_unit: str | None
    random_state: int | None

    # ------------------------------------------------------------------ subclass hooks
    def _check_params(self) -> None:
        """Validate subclass parameters (raise ParameterError)."""

    def _fit(self, dataset: IrregularDataset) -> None:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must define _fit().")

    def _locate(
        self, dataset: IrregularDataset, queries: list[np.ndarray]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must define _locate().")

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: None = None) -> BaselineForecaster:
        """Fit on a long frame (pandas or polars) of training series.

        Raises
        ------
        LongFrameError
            If the frame is malformed (same checks as ``LatentODEForecaster``).
        ParameterError
            If a parameter is invalid.
        """
        check_param(self, "random_state", numbers.Integral, allow_none=True)
        self._check_params()
        cols = None if self.feature_cols is None else tuple(self.feature_cols)
        spec = LongFrameSpec(id_col=self.id_col, time_col=self.time_col, feature_cols=cols)
        data = LongFrameEncoder(spec, time_unit=self.time_unit)
        dataset = data.fit_transform(X)
        self.data_ = data
        self.feature_cols_ = data.feature_cols_
        self.n_features_in_ = len(self.feature_cols_)
        self._fit(dataset)
        return self

    # ------------------------------------------------------------------ prediction
    def _distribution(self, X: Any, at: Any, horizon: Any, n_points: int | None) -> tuple:
        check_is_fitted(self, "band_")
        library = frame_library(X)
        dataset = self.data_.transform(X)
        queries, order = self.data_.queries(dataset, at, horizon, n_points)
        loc, scale = self._locate(dataset, queries)
        return dataset, library, queries, order, loc, scale

    def _frame(self, dataset, library, queries, order, columns: dict) -> Any:
        return self.data_.answer_frame(dataset.ids, queries, order, columns, library)

    def _columns(self, arrays: list[np.ndarray], suffix: str = "") -> dict[str, list]:
        orig = [self.data_.inverse_values(a) for a in arrays]
        return {
            f"{name}{suffix}": [a[:, d] for a in orig] for d, name in enumerate(self.feature_cols_)
        }

    def predict(
        self, X: Any, at: Any = None, *, horizon: Any = None, n_points: int | None = None
    ) -> Any:
        """Point forecast (the baseline's location, e.g. the last value) at query times.

        Parameters
        ----------
        X : long frame
            The observed history (same columns as in ``fit``).
        at : long frame of ``id_col``, ``time_col``, optional
            Query rows (inside the history to interpolate, after it to forecast).
        horizon : float or timedelta, optional
            Instead of ``at``: ``n_points`` (default 10) evenly spaced times in
            ``(last, last + horizon]`` after each series' last observation.

        Returns
        -------
        Long frame (the library of ``X``): ``id_col, time_col, <features>``.
        """
        dataset, library, queries, order, loc, _scale = self._distribution(X, at, horizon, n_points)
        return self._frame(dataset, library, queries, order, self._columns(loc))

    def predict_quantiles(
        self,
        X: Any,
        at: Any = None,
        *,
        alpha: Sequence[float] = (0.1, 0.5, 0.9),
        horizon: Any = None,
        n_points: int | None = None,
    ) -> Any:
        """Predictive quantiles: a long frame with ``<feature>_q<alpha>`` columns."""
        levels = check_levels(alpha, "alpha")
        dataset, library, queries, order, loc, scale = self._distribution(X, at, horizon, n_points)
        per_level = {}
        for level in levels:
            z = self.band_.quantile(level)
            per_level[level] = self._columns(
                [m + s * z for m, s in zip(loc, scale)], f"_q{level:g}"
            )
        cols = {
            f"{name}_q{lv:g}": per_level[lv][f"{name}_q{lv:g}"]
            for name in self.feature_cols_
            for lv in levels
        }
        return self._frame(dataset, library, queries, order, cols)

    def predict_interval(
        self,
        X: Any,
        at: Any = None,
        *,
        coverage: float | Sequence[float] = 0.9,
        horizon: Any = None,
        n_points: int | None = None,
    ) -> Any:
        """Central intervals: ``<feature>`` (as ``predict``), then its bounds, named as by
        :meth:`LatentODEForecaster.predict_interval` (``_lower``/``_upper`` for one level,
        ``_lower_80``/``_upper_80``, … for a sequence of levels)."""
        bands = intervals(coverage)
        dataset, library, queries, order, loc, scale = self._distribution(X, at, horizon, n_points)
        parts = {"": self._columns(loc)}
        for band in bands:
            for key, lv in zip((band.lower, band.upper), band.probabilities):
                z = self.band_.quantile(lv)
                parts[key] = self._columns([m + s * z for m, s in zip(loc, scale)], key)
        merged = merge_columns(*parts.values())  # refuses names two groups would share
        cols = {
            f"{name}{key}": merged[f"{name}{key}"] for name in self.feature_cols_ for key in parts
        }
        return self._frame(dataset, library, queries, order, cols)

    def sample(
        self,
        X: Any,
        at: Any = None,
        *,
        n_samples: int = 100,
        horizon: Any = None,
        n_points: int | None = None,
    ) -> Any:
        """Draws from the predictive distribution: a long frame with a ``sample`` column."""
        bad = isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral)
        if bad or n_samples < 1:
            raise QueryError(f"'n_samples' must be an int >= 1. Got {n_samples!r} instead.")
        dataset, library, queries, order, loc, scale = self._distribution(X, at, horizon, n_points)
        rng = np.random.default_rng(self.random_state)
        z = [self.band_.draw(rng, (n_samples, m.shape[0])) for m in loc]
        frames = []
        for k in range(n_samples):
            cols = self._columns([m + s * zz[k] for m, s, zz in zip(loc, scale, z)])
            frame = to_pandas(self._frame(dataset, library, queries, order, cols))
            frame.insert(2, "sample", k)
            frames.append(frame)
        return from_pandas(pd.concat(frames, ignore_index=True), library)
