"""The MLflow pyfunc wrapper of every latentode estimator.

This module imports MLflow at the top (the class must subclass ``PythonModel``); it is
itself imported only by :func:`latentode.tracking.log_model` and by MLflow when it loads a
logged model, never by ``import latentode``.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel, PythonModelContext

from latentode.exceptions import LatentODEError

__all__ = ["ESTIMATOR_ARTIFACT", "LatentODEPyfunc"]

logger = logging.getLogger(__name__)

#: Name of the artifact holding the estimator directory written by ``estimator.save``.
ESTIMATOR_ARTIFACT = "estimator"


class LatentODEPyfunc(PythonModel):
    """Serve a saved latentode estimator through ``mlflow.pyfunc``.

    ``load_context`` reads the estimator with :func:`latentode.load` (weights loaded with
    ``weights_only=True``); ``predict`` hands the request to the estimator's adapter (see
    :mod:`latentode.tracking._adapters`). Invalid requests raise an
    :class:`~mlflow.exceptions.MlflowException` with ``INVALID_PARAMETER_VALUE``, which
    the scoring server answers with HTTP 400 and the message.

    The optional ``model_config`` key ``"device"`` (e.g. ``"cpu"``) overrides the device
    the estimator was saved with.
    """

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = dict(metadata or {})

    def load_context(self, context: PythonModelContext) -> None:
        from latentode import load
        from latentode.tracking._adapters import adapter_for

        device = (context.model_config or {}).get("device")
        self._estimator = load(context.artifacts[ESTIMATOR_ARTIFACT], device=device)
        self._adapter = adapter_for(self._estimator)
        logger.debug("loaded %s for serving", type(self._estimator).__name__)

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Answer a request frame; see the README's MLflow section for its format."""
        try:
            return self._adapter.predict(self._estimator, model_input, params, self.metadata)
        except LatentODEError as exc:
            if not isinstance(exc, ValueError):
                raise
            raise MlflowException(
                f"Invalid request: {exc}", error_code=INVALID_PARAMETER_VALUE
            ) from exc
