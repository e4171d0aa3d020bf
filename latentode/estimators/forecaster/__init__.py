"""``LatentODEForecaster`` and the typed steps it orchestrates (build, train, infer)."""

from latentode.estimators.forecaster._estimator import LatentODEForecaster

__all__ = ["LatentODEForecaster"]
