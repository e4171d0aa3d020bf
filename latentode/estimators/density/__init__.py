"""``FFJORDDensity`` and the typed steps it orchestrates (flow, training)."""

from latentode.estimators.density._estimator import SKLEARN_EXPECTED_FAILED_CHECKS, FFJORDDensity

__all__ = ["SKLEARN_EXPECTED_FAILED_CHECKS", "FFJORDDensity"]
