"""latentode: forecasting irregularly sampled time series with latent ODEs."""

from latentode import datasets
from latentode._persist import load
from latentode.estimators import FFJORDDensity, LatentODEForecaster, NeuralODEDynamics

__version__ = "0.1.0"

__all__ = [
    "FFJORDDensity",
    "LatentODEForecaster",
    "NeuralODEDynamics",
    "__version__",
    "datasets",
    "load",
]
