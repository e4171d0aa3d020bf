"""Per-series linear interpolation: :class:`LinearInterpolationBaseline`."""

from __future__ import annotations

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

    def _point(self, nb: Neighbours) -> tuple[np.ndarray, np.ndarray]:
        return nb.interp, np.fmin(nb.prev_gap, nb.next_gap)
