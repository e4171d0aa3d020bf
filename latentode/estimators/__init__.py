"""scikit-learn style estimators."""

from latentode.estimators.density import FFJORDDensity
from latentode.estimators.dynamics import NeuralODEDynamics
from latentode.estimators.forecaster import LatentODEForecaster

#: Class name → class, for ``latentode.load``.
ESTIMATORS = {
    "FFJORDDensity": FFJORDDensity,
    "LatentODEForecaster": LatentODEForecaster,
    "NeuralODEDynamics": NeuralODEDynamics,
}

__all__ = ["ESTIMATORS", "FFJORDDensity", "LatentODEForecaster", "NeuralODEDynamics"]
