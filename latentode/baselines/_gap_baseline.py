"""Shared fit of the two rule baselines: residual bands from masked training series."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from latentode.baselines._base import BaselineForecaster, check_param
from latentode.baselines._neighbours import Neighbours, neighbours
from latentode.baselines._residuals import ResidualBand
from latentode.baselines._tasks import masked_tasks
from latentode.data import IrregularDataset

__all__ = ["GapRuleBaseline"]


class GapRuleBaseline(BaselineForecaster):
    """A fixed rule ``_point(neighbours) -> (location, gap)`` plus a :class:`ResidualBand`
    fitted on the rule's residuals over ``n_repeats`` masked copies of the training series
    (the evaluation protocol: last 20 % of timestamps, random 30 % of values)."""

    # The rule baselines share their parameters (scikit-learn reads them off this signature).
    def __init__(
        self,
        *,
        n_repeats: int = 1,
        id_col: str = "unique_id",
        time_col: str = "ds",
        feature_cols: Sequence[str] | None = None,
        time_unit: str | None = None,
        random_state: int | None = None,
    ) -> None:
        self.n_repeats = n_repeats
        self.id_col = id_col
        self.time_col = time_col
        self.feature_cols = feature_cols
        self.time_unit = time_unit
        self.random_state = random_state

    def _point(self, nb: Neighbours) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise TypeError(f"{type(self).__name__} must define _point().")

    def _check_params(self) -> None:
        check_param(self, "n_repeats", numbers.Integral, 1)

    def _rule(self, times, values, mask, q) -> tuple[np.ndarray, np.ndarray]:
        loc, gap = self._point(neighbours(times, values, mask, q))
        none = np.isnan(loc)  # feature never observed in this series: the training mean
        return np.where(none, 0.0, loc), np.where(none, np.inf, gap)

    def _fit(self, dataset: IrregularDataset) -> None:
        rng = np.random.default_rng(self.random_state)
        n_feat = dataset.n_features
        gaps: list[list[np.ndarray]] = [[] for _ in range(n_feat)]
        res: list[list[np.ndarray]] = [[] for _ in range(n_feat)]
        for task in masked_tasks(list(dataset), rng, n_repeats=self.n_repeats):
            loc, gap = self._rule(task.times, task.values, task.mask, task.query)
            for d in range(n_feat):
                hit = task.target_mask[:, d] & np.isfinite(gap[:, d])
                gaps[d].append(gap[hit, d])
                res[d].append(task.target[hit, d] - loc[hit, d])
        self.band_ = ResidualBand.fit(
            [np.concatenate(g) if g else np.empty(0) for g in gaps],
            [np.concatenate(r) if r else np.empty(0) for r in res],
        )

    def _locate(self, dataset, queries):
        locs, scales = [], []
        for s, q in zip(dataset, queries):
            loc, gap = self._rule(s.times, s.values.astype(np.float64), s.mask, q)
            locs.append(loc)
            scales.append(self.band_.scale(gap))
        return locs, scales
