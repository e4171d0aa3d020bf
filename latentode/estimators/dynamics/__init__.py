"""``NeuralODEDynamics`` and the typed steps it orchestrates (inputs, training, inference)."""

from latentode.estimators.dynamics._estimator import NeuralODEDynamics

__all__ = ["NeuralODEDynamics"]
