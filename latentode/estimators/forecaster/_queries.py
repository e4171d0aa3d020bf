"""The forecaster's query methods: mean, quantiles, intervals, draws at any query times.

One predictive pass (:func:`predictive_samples`) per call; each method is a *view* of the
samples as long-frame columns. A mixin so the estimator module stays about fitting.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from latentode.data import (
    FrameLibrary,
    IrregularDataset,
    check_levels,
    intervals,
    merge_columns,
    to_pandas,
)
from latentode.estimators._base import threaded
from latentode.estimators._tensors import PaddedSeries
from latentode.estimators.forecaster._inference import (
    Predictive,
    check_n_samples,
    draws_frame,
    predictive_samples,
)
from latentode.exceptions import QueryError

__all__ = ["ForecastQueries"]


class ForecastQueries:
    """``predict``, ``predict_quantiles``, ``predict_interval``, ``predict_distribution``,
    ``sample`` for an estimator that provides ``_history`` and the fitted attributes below."""

    module_: Any
    data_: Any
    feature_cols_: tuple[str, ...]
    seed_: int
    n_samples: int
    time_span: float
    latent_dim: int
    batch_size: int
    id_col: str
    time_col: str

    def _history(self, X: Any) -> tuple[IrregularDataset, PaddedSeries, str]:
        raise TypeError(f"{type(self).__name__} must define _history(X).")

    @threaded
    def _columns(
        self,
        X: Any,
        at: Any,
        horizon: Any,
        n_points: int | None,
        n_samples: int | None,
        view: Any,
        draws: bool = True,
    ) -> Any:
        """One predictive pass at the queries, and the long frame of ``view(pred)``'s columns
        (``draws=False``: a view of the means alone, no predictive draws made)."""
        dataset, padded, library = self._history(X)
        times, order = self.data_.queries(dataset, at, horizon, n_points)
        pred = predictive_samples(
            self.module_,
            padded,
            times,
            check_n_samples(n_samples, self.n_samples),
            data=self.data_,
            time_span=self.time_span,
            latent_dim=self.latent_dim,
            seed=self.seed_,
            batch_size=max(self.batch_size, 256),
            draws=draws,
        )
        frame = partial(self.data_.answer_frame, dataset.ids, times, order)
        return view(pred, frame, library)

    def predict(
        self,
        X: Any,
        at: Any = None,
        *,
        horizon: Any = None,
        n_points: int | None = None,
        n_samples: int | None = None,
    ) -> Any:
        """Mean forecast at query times, conditioned on each series' history in ``X``.

        Parameters
        ----------
        X : long frame
            The observed history (same columns as in ``fit``).
        at : long frame of ``id_col``, ``time_col``, optional
            Query rows (any times: inside the history to interpolate, after it to forecast).
        horizon : float or timedelta, optional
            Instead of ``at``: predict ``n_points`` evenly spaced times in
            ``(last, last + horizon]`` after each series' last observation.
        n_points : int, default=10
        n_samples : int, optional
            Posterior samples averaged (default: the ``n_samples`` parameter).

        Returns
        -------
        Long frame (the library of ``X``): ``id_col, time_col, <features>``.
        """
        return self.predict_distribution(
            X, at, horizon=horizon, n_points=n_points, n_samples=n_samples
        )

    def predict_quantiles(
        self,
        X: Any,
        at: Any = None,
        *,
        alpha: Sequence[float] = (0.1, 0.5, 0.9),
        horizon: Any = None,
        n_points: int | None = None,
        n_samples: int | None = None,
    ) -> Any:
        """Predictive quantiles (posterior and observation noise) at query times.

        Returns a long frame with ``<feature>_q<alpha>`` columns, e.g. ``y_q0.1``.
        """
        levels = check_levels(alpha, "alpha")

        def view(pred: Predictive, frame: Any, library: str) -> Any:
            return frame(pred.quantile_columns(self.feature_cols_, levels), library)

        return self._columns(X, at, horizon, n_points, n_samples, view)

    def predict_interval(
        self,
        X: Any,
        at: Any = None,
        *,
        coverage: float | Sequence[float] = 0.9,
        horizon: Any = None,
        n_points: int | None = None,
        n_samples: int | None = None,
    ) -> Any:
        """Central predictive intervals: ``<feature>`` (the mean), then its bounds.

        ``coverage`` is one level (columns ``<feature>_lower``, ``<feature>_upper``) or a
        sequence of levels, each named by its percentage: ``coverage=[0.8, 0.95]`` gives
        ``<feature>_lower_80``, ``<feature>_upper_80``, ``<feature>_lower_95``,
        ``<feature>_upper_95``. All levels come from the same predictive draws.
        """
        bands = intervals(coverage)

        def view(pred: Predictive, frame: Any, library: str) -> Any:
            both = merge_columns(
                pred.mean_columns(self.feature_cols_),
                pred.interval_columns(self.feature_cols_, bands),
            )
            order = [
                c
                for f in self.feature_cols_
                for c in (f, *(f"{f}{s}" for b in bands for s in (b.lower, b.upper)))
            ]
            return frame({c: both[c] for c in order}, library)

        return self._columns(X, at, horizon, n_points, n_samples, view)

    def predict_distribution(
        self,
        X: Any,
        at: Any = None,
        *,
        alpha: Sequence[float] = (),
        coverage: float | Sequence[float] | None = None,
        horizon: Any = None,
        n_points: int | None = None,
        n_samples: int | None = None,
    ) -> Any:
        """Mean, quantiles and a central interval from one pass of predictive samples.

        Returns a long frame ``id_col, time_col, <features>``, then ``<feature>_q<alpha>``
        for each level of ``alpha`` (none by default) and, with ``coverage``, the interval
        bounds named as in :meth:`predict_interval`. Each part equals what :meth:`predict`,
        :meth:`predict_quantiles` and :meth:`predict_interval` return. This is what a
        logged MLflow model answers a request with.
        """
        levels = check_levels(alpha, "alpha") if len(alpha) else []
        bands = [] if coverage is None else intervals(coverage)

        def view(pred: Predictive, frame: Any, library: str) -> Any:
            parts = [pred.mean_columns(self.feature_cols_)]
            if levels:
                parts.append(pred.quantile_columns(self.feature_cols_, levels))
            if bands:
                parts.append(pred.interval_columns(self.feature_cols_, bands))
            return frame(merge_columns(*parts), library)

        needs_draws = bool(levels or bands)
        return self._columns(X, at, horizon, n_points, n_samples, view, draws=needs_draws)

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

        def view(pred: Predictive, frame: Any, library: FrameLibrary) -> Any:
            return draws_frame(
                pred, self.feature_cols_, lambda cols: to_pandas(frame(cols, library)), library
            )

        if n_samples is None:
            raise QueryError("'n_samples' must be an int >= 1. Got None instead.")
        return self._columns(X, at, horizon, n_points, n_samples, view)
