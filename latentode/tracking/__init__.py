"""MLflow integration: tracking, pyfunc models, registry and Spark batch scoring.

``import latentode.tracking`` does not import MLflow; each function imports it when called
(``pip install latentode[mlflow]``; add ``[spark]`` for :func:`score_spark`).

* :func:`autolog` / :class:`MLflowCallback` — track fits (params, data summary, per-epoch
  losses and NFE, final metrics, plots); failures warn with :class:`TrackingWarning`.
* :func:`log_model` — a fitted estimator as an MLflow pyfunc model (code shipped,
  requirements pinned, signature declared); request frames via :func:`make_payload`.
* :func:`register`, :func:`set_alias`, :func:`promote`, :func:`model_uri`,
  :func:`latest_version`, :func:`load_estimator` — the registry.
* :func:`batch_predict` — forecast a parquet data set larger than memory, batch by batch,
  resumable; :func:`score_spark` — score a Spark DataFrame of many series with a logged model.

See the README's MLflow section for the request format and a walk-through.
"""

from latentode.tracking._autolog import autolog
from latentode.tracking._batch import BatchReport, batch_predict
from latentode.tracking._callback import MLflowCallback
from latentode.tracking._guard import TrackingWarning
from latentode.tracking._log_model import log_model, pinned_requirements
from latentode.tracking._payload import ROLE_COL, ForecastParams, make_payload
from latentode.tracking._registry import (
    Promotion,
    RegistryError,
    latest_version,
    load_estimator,
    model_uri,
    promote,
    register,
    set_alias,
)
from latentode.tracking._spark import score_spark

__all__ = [
    "ROLE_COL",
    "BatchReport",
    "ForecastParams",
    "MLflowCallback",
    "Promotion",
    "RegistryError",
    "TrackingWarning",
    "autolog",
    "batch_predict",
    "latest_version",
    "load_estimator",
    "log_model",
    "make_payload",
    "model_uri",
    "pinned_requirements",
    "promote",
    "register",
    "score_spark",
    "set_alias",
]
