"""Baseline forecasters with the API of :class:`latentode.LatentODEForecaster`.

Every baseline takes long frames (pandas or polars, validated like the forecaster's) and
offers ``fit``, ``predict``, ``predict_quantiles``, ``predict_interval`` and ``sample``
with the same output columns:

* :class:`LastValueBaseline` — last observation carried forward;
* :class:`LinearInterpolationBaseline` — linear interpolation, flat beyond the ends;
* :class:`GPBaseline` — a Gaussian process per series, kernel pooled per feature;
* :class:`GradientBoostingBaseline` — one global gradient-boosting model per feature on
  gap features, with a split-conformal band.

The first two and the last draw their predictive band from training residuals whose
scale grows with the square root of the gap to the nearest observation
(:class:`ResidualBand`).
"""

from latentode.baselines._base import BaselineForecaster
from latentode.baselines._residuals import ResidualBand
from latentode.baselines.boosting import GradientBoostingBaseline
from latentode.baselines.gp import GPBaseline
from latentode.baselines.last_value import LastValueBaseline
from latentode.baselines.linear import LinearInterpolationBaseline

__all__ = [
    "BaselineForecaster",
    "GPBaseline",
    "GradientBoostingBaseline",
    "LastValueBaseline",
    "LinearInterpolationBaseline",
    "ResidualBand",
]
