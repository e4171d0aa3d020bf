"""scikit-learn style estimators: each a small package of a public class and the typed
steps it orchestrates; every estimator registers itself in :mod:`._registry`."""

from latentode.estimators._load import load
from latentode.estimators._registry import ESTIMATORS, estimator_task
from latentode.estimators.anomaly import SeriesAnomalyDetector
from latentode.estimators.density import FFJORDDensity
from latentode.estimators.dynamics import NeuralODEDynamics
from latentode.estimators.forecaster import LatentODEForecaster

__all__ = [
    "ESTIMATORS",
    "FFJORDDensity",
    "LatentODEForecaster",
    "NeuralODEDynamics",
    "SeriesAnomalyDetector",
    "estimator_task",
    "load",
]
