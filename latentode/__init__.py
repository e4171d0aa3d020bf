"""latentode: forecasting irregularly sampled time series with latent ODEs."""

from latentode import datasets
from latentode._deadline import deadline
from latentode._version import __version__
from latentode.estimators import (
    FFJORDDensity,
    LatentODEForecaster,
    NeuralODEDynamics,
    SeriesAnomalyDetector,
    load,
)

__all__ = [
    "FFJORDDensity",
    "LatentODEForecaster",
    "NeuralODEDynamics",
    "SeriesAnomalyDetector",
    "__version__",
    "datasets",
    "deadline",
    "load",
]
