"""``log_model``: a fitted estimator → an MLflow pyfunc model (optionally registered)."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from sklearn.utils.validation import check_is_fitted

from latentode.tracking._adapters import adapter_for
from latentode.tracking._runs import run_of

__all__ = ["log_model", "pinned_requirements"]

logger = logging.getLogger(__name__)

#: ``[project].dependencies`` of pyproject.toml, for a source tree without package metadata
#: (``test_tracking_requirements`` keeps the two equal). Every one is a runtime dependency:
#: loading the model imports the whole package (``tqdm`` from ``training.callbacks``, ...).
_SOURCE_TREE_DEPENDENCIES = (
    "torch",
    "torchdiffeq",
    "numpy",
    "pandas",
    "polars",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "tqdm",
    "matplotlib",
    "properscoring",
)
_TORCH_CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def log_model(
    estimator: Any,
    name: str = "model",
    registered_model_name: str | None = None,
    input_example: Any = None,
    *,
    await_registration_for: int = 300,
) -> Any:
    """Log a fitted estimator as an MLflow pyfunc model.

    The model directory holds the estimator (saved with ``estimator.save``; loaded back with
    ``weights_only=True``), a copy of the ``latentode`` package (``code_paths``, so the model
    loads where latentode is not installed), requirements pinned to the installed versions,
    a signature and the estimator's description in the MLmodel ``metadata``. It is logged
    as *models from code* (MLflow runs ``latentode/tracking/_model_code.py`` to build it; no
    cloudpickled object), and the SHA-256 digest of every estimator file is logged beside
    it and checked on load (a modified estimator raises ``ModelFileError``). A logged
    model directory still contains code (that file and the package copy): load models
    only from a registry you control.

    The model goes to the run that tracked the estimator's fit (see :func:`autolog` /
    :class:`MLflowCallback`) when there is one — so the registered version carries that
    fit's metrics, which :func:`promote` compares — else to the active run, else to a new
    run. The active run, if any, stays active.

    Parameters
    ----------
    estimator : LatentODEForecaster, NeuralODEDynamics, FFJORDDensity or SeriesAnomalyDetector
        A fitted estimator.
    name : str, default="model"
        Name of the logged model within its run.
    registered_model_name : str, optional
        Also register the model under this name (creating it if needed).
    input_example : frame, optional
        Example request, or a plain history frame (two series of it are kept and one query
        row per series is added). Also fixes the id column's type in the signature
        (integer ids → ``long``; otherwise ``string``). Without it, forecasting and
        dynamics models get a made-up example in their format (two series at the training
        means, string ids); nothing of the training data is logged.
    await_registration_for : int, default=300
        Seconds to wait for the model version to become ready.

    Returns
    -------
    mlflow.models.model.ModelInfo
        ``model_uri``, ``run_id``, ``registered_model_version`` (when registered), ...

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ParameterError
        If ``estimator`` is of a kind that cannot be logged.

    Notes
    -----
    Request and response formats are in the README's MLflow section: forecasting
    models take one long frame of history rows plus ``role="query"`` rows (or a
    ``horizon`` parameter) and return mean, quantile (``quantiles``) and interval
    (``coverage``) columns; density models return ``log_density`` per row; anomaly
    detectors take whole series and return one row of scores per series.
    """
    import mlflow

    with warnings.catch_warnings():
        # MLflow's first import of its pyfunc flavour warns about its own chat-agent type
        # hints ("Any type hint is inferred as AnyType"): nothing a latentode user can act on.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\.")
        import mlflow.pyfunc
    from mlflow import MlflowClient
    from mlflow.models import Model

    from latentode.tracking import _model_code
    from latentode.tracking._pyfunc import DIGESTS_ARTIFACT, ESTIMATOR_ARTIFACT, digests

    adapter = adapter_for(estimator)
    check_is_fitted(estimator)
    meta = adapter.metadata(estimator)
    if input_example is not None:
        example = adapter.example(estimator, input_example)
    else:  # a made-up request in the model's format (none for density models)
        make = getattr(adapter, "default_example", None)
        example = None if make is None else make(estimator)
    signature = adapter.signature(estimator, example)
    with tempfile.TemporaryDirectory(prefix="latentode-log-model-") as tmp:
        tmp_path = Path(tmp)
        estimator_dir = _save_estimator(estimator, tmp_path / ESTIMATOR_ARTIFACT)
        digests_file = tmp_path / "digests.json"
        digests_file.write_text(json.dumps(digests(estimator_dir), indent=2))
        code_dir = _package_copy(tmp_path / "code")
        active = mlflow.active_run()
        run_id = run_of(estimator) or (None if active is None else active.info.run_id)
        context: Any = contextlib.nullcontext()
        if run_id is None:
            context = mlflow.start_run(run_name=f"{type(estimator).__name__}-model")
        with context as started:
            run_id = run_id or started.info.run_id
            # The logged model goes to its run's experiment, explicitly: resuming a finished
            # run with the fluent API fails when another experiment is the current one.
            run = MlflowClient().get_run(run_id)
            model = mlflow.initialize_logged_model(
                name=name,
                source_run_id=run_id,
                experiment_id=run.info.experiment_id,
                params=dict(run.data.params),
            )
            with warnings.catch_warnings():
                # The signature is declared explicitly, so MLflow's advice to pass an input
                # example (to infer one) does not apply; an example is still logged if given.
                warnings.filterwarnings("ignore", message=".*input example was not provided")
                info = Model.log(
                    artifact_path=None,
                    name=name,
                    flavor=mlflow.pyfunc,
                    run_id=run_id,
                    model_id=model.model_id,
                    # Models from code: the model is built by running _model_code.py on
                    # load, not by unpickling an object (see the README's trust boundary).
                    python_model=str(Path(_model_code.__file__)),
                    artifacts={
                        ESTIMATOR_ARTIFACT: str(estimator_dir),
                        DIGESTS_ARTIFACT: str(digests_file),
                    },
                    code_paths=[str(code_dir)],
                    pip_requirements=pinned_requirements(),
                    signature=signature,
                    input_example=example,
                    registered_model_name=registered_model_name,
                    await_registration_for=await_registration_for,
                    metadata={"latentode": meta},
                    # The keys a loader may override (load_model(model_config=...) or
                    # MLFLOW_PYFUNC_INFERENCE_CONFIG); MLflow drops keys not declared here.
                    model_config=dict(SERVING_CONFIG),
                )
    logger.info("logged %s as %s", type(estimator).__name__, info.model_uri)
    return info


#: The ``model_config`` keys of a logged model and their defaults (None: the estimator's
#: device; a deadline just under the scoring server's timeout), see ``LatentODEPyfunc``.
SERVING_CONFIG: dict[str, Any] = {"device": None, "request_timeout_s": None}


def pinned_requirements() -> list[str]:
    """``name==version`` of latentode's runtime dependencies, MLflow and cloudpickle.

    Versions are the installed ones, so a model served in a fresh environment computes
    what it computed here. A CPU-only torch build (``+cpu``) adds PyTorch's CPU wheel index.
    """
    try:
        declared = importlib.metadata.requires("latentode") or []
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        declared = list(_SOURCE_TREE_DEPENDENCIES)
    names = []
    for req in declared:
        if ";" in req:  # an extra's requirement
            continue
        match = re.match(r"[A-Za-z0-9_.\-]+", req)
        if match:
            names.append(match.group(0))
    names += ["mlflow", "cloudpickle"]
    lines: list[str] = []
    for dist in sorted(set(names), key=str.lower):
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            lines.append(dist)
            continue
        if dist == "torch" and version.endswith("+cpu"):
            lines.insert(0, _TORCH_CPU_INDEX)
        lines.append(f"{dist}=={version}")
    return lines


def _save_estimator(estimator: Any, path: Path) -> Path:
    """``estimator.save(path)`` without its ``callbacks`` (objects a model file cannot hold)."""
    # A shallow twin sharing the fitted state; built by hand because copy.copy would go
    # through the estimator's pickling hooks.
    saved = type(estimator).__new__(type(estimator))
    saved.__dict__.update(estimator.__dict__)
    if "callbacks" in saved.get_params(deep=False):
        saved.callbacks = None
    saved.save(path)
    return path


def _package_copy(target: Path) -> Path:
    """Copy the installed ``latentode`` package (no bytecode) to ``target/latentode``."""
    import latentode

    source = Path(latentode.__file__).parent
    dest = target / "latentode"
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest
