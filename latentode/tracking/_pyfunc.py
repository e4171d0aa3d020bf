"""The MLflow pyfunc wrapper of every latentode estimator.

This module imports MLflow at the top (the class must subclass ``PythonModel``); it is
itself imported only by :func:`latentode.tracking.log_model` and by MLflow when it loads a
logged model, never by ``import latentode``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import DEADLINE_EXCEEDED, INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel, PythonModelContext

from latentode._deadline import deadline
from latentode.exceptions import (
    DeadlineExceededError,
    LatentODEError,
    MaxStepsExceededError,
    ModelFileError,
    ParameterError,
)

__all__ = ["DIGESTS_ARTIFACT", "ESTIMATOR_ARTIFACT", "LatentODEPyfunc", "check_digests", "digests"]

logger = logging.getLogger(__name__)

#: Name of the artifact holding the estimator directory written by ``estimator.save``.
ESTIMATOR_ARTIFACT = "estimator"
#: Name of the artifact holding the SHA-256 digest of every file of the estimator artifact.
DIGESTS_ARTIFACT = "digests"
#: The environment variable with the scoring server's request timeout in seconds (set by
#: ``mlflow models serve``, 60 by default).
SERVER_TIMEOUT_ENV = "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"


def request_deadline(model_config: dict[str, Any] | None) -> float | None:
    """Seconds one request may compute for, or None for no limit.

    ``model_config["request_timeout_s"]`` when set (0: no limit). Otherwise (absent or
    None), inside ``mlflow models serve``, a little less than the server's own request
    timeout (90 % of it, and at least one second before it), so that a request that runs
    too long is stopped and answered with its own 504 message, instead of the server
    giving up on it while the work goes on; in-process and batch scoring: no limit.

    Raises
    ------
    ParameterError
        If ``request_timeout_s`` is not a number of seconds >= 0.
    """
    config = model_config or {}
    value = config.get("request_timeout_s")
    if value is not None:
        if value == 0 and not isinstance(value, bool):
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not (math.isfinite(value) and value > 0)
        ):
            raise ParameterError(
                "The model_config key 'request_timeout_s' must be a number of seconds > 0 "
                f"(0: no limit; None: the default). Got {value!r} instead."
            )
        return float(value)
    raw = os.environ.get(SERVER_TIMEOUT_ENV)
    if not raw:
        return None
    try:
        server = float(raw)
    except ValueError:
        logger.warning(
            "%s=%r is not a number; requests run without a deadline", SERVER_TIMEOUT_ENV, raw
        )
        return None
    if not (math.isfinite(server) and server > 0):
        return None
    return max(min(0.9 * server, server - 1.0), 0.5 * server)


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
    the estimator was saved with. ``"request_timeout_s"`` bounds the seconds one request
    computes for (see :func:`request_deadline`; under ``mlflow models serve`` it defaults
    to just under the server's ``MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT``): a request that
    runs longer is stopped at the next solver step and answered with HTTP 504 and a
    message saying so, instead of running on after the server has answered.
    """

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = dict(metadata or {})

    def load_context(self, context: PythonModelContext) -> None:
        from latentode import load
        from latentode.tracking._adapters import adapter_for

        estimator_dir = Path(context.artifacts[ESTIMATOR_ARTIFACT])
        check_digests(estimator_dir, Path(context.artifacts[DIGESTS_ARTIFACT]))
        device = (context.model_config or {}).get("device")
        self._deadline_s = request_deadline(context.model_config)
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
            with deadline(getattr(self, "_deadline_s", None)):
                return self._adapter.predict(self._estimator, model_input, params, self.metadata)
        except DeadlineExceededError as exc:
            raise MlflowException(f"Request stopped: {exc}", error_code=DEADLINE_EXCEEDED) from exc
        except LatentODEError as exc:
            # Bad requests (and queries too far for the solver's step budget) are the
            # caller's to fix: HTTP 400 with the message. Anything else is a server error.
            if not isinstance(exc, (ValueError, MaxStepsExceededError)):
                raise
            raise MlflowException(
                f"Invalid request: {exc}", error_code=INVALID_PARAMETER_VALUE
            ) from exc
