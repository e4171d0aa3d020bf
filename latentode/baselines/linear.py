"""Per-series linear interpolation: :class:`LinearInterpolationBaseline`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from latentode.baselines._gap_baseline import GapRuleBaseline
from latentode.baselines._neighbours import Neighbours

__all__ = ["LinearInterpolationBaseline"]


class LinearInterpolationBaseline(GapRuleBaseline):
    """Linear interpolation between a feature's observations, flat beyond the ends.

    The predictive distribution is ``value + scale(gap) · z``, ``gap`` the time to the
    *nearest* observation of the feature, with ``scale`` and ``z`` fitted on the training
    series masked as in the evaluation tasks (see :class:`LastValueBaseline`).

    Parameters
    ----------
    n_repeats : int, default=1
        Masked copies of each training series used to fit the band.
    id_col, time_col : str, default="unique_id", "ds"
    feature_cols : sequence of str or None, default=None
    time_unit : str or None, default=None
    random_state : int or None, default=None

    Attributes
    ----------
    data_ : LongFrameEncoder
    feature_cols_ : tuple of str
    band_ : ResidualBand
    """

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

    def _point(self, nb: Neighbours) -> tuple[np.ndarray, np.ndarray]:
        return nb.interp, np.fmin(nb.prev_gap, nb.next_gap)
