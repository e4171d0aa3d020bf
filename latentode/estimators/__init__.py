"""scikit-learn style estimators."""

from latentode.estimators.forecaster import LatentODEForecaster

#: Class name → class, for ``latentode.load``.
ESTIMATORS = {"LatentODEForecaster": LatentODEForecaster}

__all__ = ["ESTIMATORS", "LatentODEForecaster"]
