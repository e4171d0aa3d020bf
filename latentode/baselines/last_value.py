"""Last observation carried forward: :class:`LastValueBaseline`."""

from __future__ import annotations

import numpy as np

from latentode.baselines._gap_baseline import GapRuleBaseline
from latentode.baselines._neighbours import Neighbours

__all__ = ["LastValueBaseline"]


class LastValueBaseline(GapRuleBaseline):
    """Last observation carried forward, per series and feature, with a gap-aware band.

    The forecast of a feature at time ``t`` is its last observed value at or before ``t``
    (before the first observation: the first one; never observed in the series: the
    training mean). The predictive distribution is ``value + scale(gap) · z`` with
    ``scale(gap)² = a + b · gap`` in the time since the observation used, and ``z`` the
    empirical standardised residuals, both fitted on the training series masked as in
    the evaluation tasks (see :class:`~latentode.baselines.ResidualBand`).

    Parameters
    ----------
    n_repeats : int, default=1
        Masked copies of each training series used to fit the band.
    id_col, time_col : str, default="unique_id", "ds"
    feature_cols : sequence of str or None, default=None
        Feature columns; None takes every other column.
    time_unit : str or None, default=None
        Unit of float horizons for datetime time columns (None means days).
    random_state : int or None, default=None
        Seeds the masking of training series and ``sample``.

    Attributes
    ----------
    data_ : LongFrameEncoder
    feature_cols_ : tuple of str
    band_ : ResidualBand
    """

    def _point(self, nb: Neighbours) -> tuple[np.ndarray, np.ndarray]:
        has_prev = ~np.isnan(nb.prev_value)
        loc = np.where(has_prev, nb.prev_value, nb.next_value)
        gap = np.where(has_prev, nb.prev_gap, nb.next_gap)
        return loc, gap
