"""A global gradient-boosting model on gap features: :class:`GradientBoostingBaseline`."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from latentode.baselines._base import BaselineForecaster, check_param
from latentode.baselines._neighbours import neighbours
from latentode.baselines._residuals import ResidualBand
from latentode.baselines._tasks import masked_tasks
from latentode.data import IrregularDataset

__all__ = ["GradientBoostingBaseline"]


def gap_features(times, values, mask, q) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Per feature ``d``: the ``(k, n_columns)`` design matrix of the queries ``q``, the
    anchor (linear interpolation, flat beyond the ends; 0 if never observed) and the gap
    to the nearest observation, both ``(k, D)``.

    Columns: for ``d`` its last value and time since it, next value and time to it (NaN
    when extrapolating), interpolation, series mean and count; the time since the series'
    first observation and since its last one; for every other feature its last value and
    time since it.
    """
    nb = neighbours(times, values, mask, q)
    n_feat = values.shape[1]
    since_start = (q - times[0])[:, None]
    since_end = (q - times[-1])[:, None]
    designs = []
    for d in range(n_feat):
        own = [
            nb.prev_value[:, d],
            nb.prev_gap[:, d],
            nb.next_value[:, d],
            nb.next_gap[:, d],
            nb.interp[:, d],
            nb.mean[:, d],
            nb.count[:, d],
        ]
        others = [
            c for e in range(n_feat) if e != d for c in (nb.prev_value[:, e], nb.prev_gap[:, e])
        ]
        designs.append(np.column_stack([*own, since_start[:, 0], since_end[:, 0], *others]))
    anchor = np.nan_to_num(nb.interp, nan=0.0)
    gap = np.fmin(nb.prev_gap, nb.next_gap)
    gap = np.where(np.isnan(gap), np.inf, gap)
    return designs, anchor, gap


class GradientBoostingBaseline(BaselineForecaster):
    """One global ``HistGradientBoostingRegressor`` per feature on gap features.

    Training rows come from the training series masked as in the evaluation tasks (last
    20 % of timestamps hidden; a random 30 % of values hidden), ``n_repeats`` times; the
    model predicts the hidden value's deviation from the linear-interpolation anchor from
    the features of :func:`gap_features`. A ``calibration_fraction`` of the training
    series is held out of the model fit: the band (``scale(gap) · z``, see
    :class:`~latentode.baselines.ResidualBand`) is fitted on its residuals, a normalised
    split-conformal band.

    Parameters
    ----------
    max_iter : int, default=200
    learning_rate : float, default=0.05
    max_leaf_nodes : int, default=31
    l2_regularization : float, default=1.0
    n_repeats : int, default=2
        Masked copies of each training series.
    calibration_fraction : float, default=0.2
        Share of training series held out to fit the band (with fewer than 10 series
        all series serve both).
    max_rows : int, default=200000
        Cap on training rows per feature (subsampled at random).
    id_col, time_col : str, default="unique_id", "ds"
    feature_cols : sequence of str or None, default=None
    time_unit : str or None, default=None
    random_state : int or None, default=None

    Attributes
    ----------
    data_ : LongFrameEncoder
    feature_cols_ : tuple of str
    models_ : list of HistGradientBoostingRegressor
    columns_ : list of numpy.ndarray of bool
        Per feature, the design columns used (those not all-NaN in training).
    band_ : ResidualBand
    """

    def __init__(
        self,
        *,
        max_iter: int = 200,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        l2_regularization: float = 1.0,
        n_repeats: int = 2,
        calibration_fraction: float = 0.2,
        max_rows: int = 200_000,
        id_col: str = "unique_id",
        time_col: str = "ds",
        feature_cols: Sequence[str] | None = None,
        time_unit: str | None = None,
        random_state: int | None = None,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.n_repeats = n_repeats
        self.calibration_fraction = calibration_fraction
        self.max_rows = max_rows
        self.id_col = id_col
        self.time_col = time_col
        self.feature_cols = feature_cols
        self.time_unit = time_unit
        self.random_state = random_state

    def _check_params(self) -> None:
        check_param(self, "max_iter", numbers.Integral, 1)
        check_param(self, "learning_rate", numbers.Real, 1e-6, 1.0)
        check_param(self, "max_leaf_nodes", numbers.Integral, 2)
        check_param(self, "l2_regularization", numbers.Real, 0.0)
        check_param(self, "n_repeats", numbers.Integral, 1)
        check_param(self, "calibration_fraction", numbers.Real, 0.0, 0.9)
        check_param(self, "max_rows", numbers.Integral, 10)

    def _rows(self, series, rng):
        n_feat = series[0].values.shape[1] if series else 0
        X: list[list[np.ndarray]] = [[] for _ in range(n_feat)]
        y: list[list[np.ndarray]] = [[] for _ in range(n_feat)]
        g: list[list[np.ndarray]] = [[] for _ in range(n_feat)]
        for task in masked_tasks(series, rng, n_repeats=self.n_repeats):
            designs, anchor, gap = gap_features(task.times, task.values, task.mask, task.query)
            for d in range(n_feat):
                hit = task.target_mask[:, d]
                X[d].append(designs[d][hit])
                y[d].append(task.target[hit, d] - anchor[hit, d])
                g[d].append(gap[hit, d])
        width = 9 + 2 * (n_feat - 1)
        return (
            [np.concatenate(x) if x else np.empty((0, width)) for x in X],
            [np.concatenate(v) if v else np.empty(0) for v in y],
            [np.concatenate(v) if v else np.empty(0) for v in g],
        )

    def _fit(self, dataset: IrregularDataset) -> None:
        rng = np.random.default_rng(self.random_state)
        series = list(dataset)
        order = rng.permutation(len(series))
        n_cal = round(self.calibration_fraction * len(series))
        if len(series) < 10 or n_cal == 0:
            fit_part = cal_part = series
        else:
            cal_part = [series[i] for i in order[:n_cal]]
            fit_part = [series[i] for i in order[n_cal:]]
        X, y, _ = self._rows(fit_part, rng)
        self.models_, self.columns_ = [], []
        for d in range(dataset.n_features):
            # Columns never observed in training (all NaN) carry nothing and break binning.
            cols = ~np.all(np.isnan(X[d]), axis=0)
            self.columns_.append(cols)
            Xd, yd = X[d][:, cols], y[d]
            if yd.size > self.max_rows:
                keep = rng.choice(yd.size, size=self.max_rows, replace=False)
                Xd, yd = Xd[keep], yd[keep]
            model = HistGradientBoostingRegressor(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                l2_regularization=self.l2_regularization,
                early_stopping=False,
                random_state=self.random_state,
            )
            self.models_.append(model.fit(Xd, yd) if yd.size >= 2 else None)
        Xc, yc, gc = self._rows(cal_part, rng)
        residuals = [yc[d] - self._delta(d, Xc[d]) for d in range(dataset.n_features)]
        self.band_ = ResidualBand.fit(gc, residuals)

    def _delta(self, d: int, X: np.ndarray) -> np.ndarray:
        model = self.models_[d]
        if model is None or X.shape[0] == 0:
            return np.zeros(X.shape[0])
        return model.predict(X[:, self.columns_[d]])

    def _locate(self, dataset, queries):
        n_feat = dataset.n_features
        parts = [
            gap_features(s.times, s.values.astype(np.float64), s.mask, q)
            for s, q in zip(dataset, queries)
        ]
        bounds = np.cumsum([q.size for q in queries])[:-1]
        anchor = np.concatenate([p[1] for p in parts]).reshape(-1, n_feat)
        gap = np.concatenate([p[2] for p in parts]).reshape(-1, n_feat)
        loc = anchor.copy()
        for d in range(n_feat):  # one predict call per feature for all series
            loc[:, d] += self._delta(d, np.concatenate([p[0][d] for p in parts]))
        return np.split(loc, bounds), np.split(self.band_.scale(gap), bounds)
