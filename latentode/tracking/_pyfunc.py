"""The MLflow pyfunc wrapper of every latentode estimator.

This module imports MLflow at the top (the class must subclass ``PythonModel``); it is
itself imported only by :func:`latentode.tracking.log_model` and by MLflow when it loads a
logged model, never by ``import latentode``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel, PythonModelContext

from latentode.exceptions import LatentODEError, MaxStepsExceededError, ModelFileError

__all__ = ["DIGESTS_ARTIFACT", "ESTIMATOR_ARTIFACT", "LatentODEPyfunc", "check_digests", "digests"]

logger = logging.getLogger(__name__)

#: Name of the artifact holding the estimator directory written by ``estimator.save``.
ESTIMATOR_ARTIFACT = "estimator"
#: Name of the artifact holding the SHA-256 digest of every file of the estimator artifact.
DIGESTS_ARTIFACT = "digests"


def digests(directory: Path) -> dict[str, str]:
    """SHA-256 of every file below ``directory``, keyed by its relative POSIX path."""
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def check_digests(directory: Path, recorded: Path) -> None:
    """Refuse an estimator artifact whose files differ from the digests logged with it."""
    try:
        expected = json.loads(recorded.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"Cannot read the model's digests '{recorded}': {exc}") from exc
    found = digests(directory)
    if found != expected:
        changed = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
        raise ModelFileError(
            f"The estimator files of this MLflow model differ from the digests logged with "
            f"it ({changed}): the model was modified after logging. Refusing to load it."
        )


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

        estimator_dir = Path(context.artifacts[ESTIMATOR_ARTIFACT])
        check_digests(estimator_dir, Path(context.artifacts[DIGESTS_ARTIFACT]))
        device = (context.model_config or {}).get("device")
        self._estimator = load(estimator_dir, device=device)
        self._adapter = adapter_for(self._estimator)
        self.metadata = self._adapter.metadata(self._estimator)
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
            # Bad requests (and queries too far for the solver's step budget) are the
            # caller's to fix: HTTP 400 with the message. Anything else is a server error.
            if not isinstance(exc, (ValueError, MaxStepsExceededError)):
                raise
            raise MlflowException(
                f"Invalid request: {exc}", error_code=INVALID_PARAMETER_VALUE
            ) from exc
