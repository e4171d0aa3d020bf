"""Model registry helpers: register, move aliases, promote a challenger over the champion."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentode.exceptions import RegistryError

__all__ = [
    "Promotion",
    "RegistryError",
    "latest_version",
    "load_estimator",
    "model_uri",
    "promote",
    "register",
    "set_alias",
]

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class Promotion:
    """Outcome of :func:`promote`.

    Attributes
    ----------
    promoted : bool
        Whether the candidate now holds the champion alias.
    name, version : str
        The registered model and the candidate version.
    previous_champion : str or None
        Version that held the champion alias before (None: there was none).
    metric : str
    candidate_value, champion_value : float or None
    reason : str
        One sentence saying why.
    """

    promoted: bool
    name: str
    version: str
    previous_champion: str | None
    metric: str
    candidate_value: float
    champion_value: float | None
    reason: str


def model_uri(name: str, alias: str = CHAMPION) -> str:
    """``models:/<name>@<alias>``, what ``mlflow.pyfunc.load_model`` and ``mlflow models
    serve -m`` take."""
    return f"models:/{name}@{alias}"


def register(model_uri: str, name: str, *, alias: str | None = None) -> Any:
    """Register a logged model (e.g. ``ModelInfo.model_uri``) as a new version of ``name``.

    Parameters
    ----------
    model_uri : str
        ``runs:/<run_id>/<name>`` or ``models:/<model_id>``.
    name : str
        Registered model name (created if needed).
    alias : str, optional
        Point this alias (e.g. ``"challenger"``) at the new version.

    Returns
    -------
    mlflow.entities.model_registry.ModelVersion
    """
    import mlflow

    version = mlflow.register_model(model_uri, name)
    if alias is not None:
        set_alias(name, alias, version.version)
    return version


def set_alias(name: str, alias: str, version: str | int) -> None:
    """Point ``alias`` of registered model ``name`` at ``version`` (moving it if it exists)."""
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(name, alias, str(version))
    logger.info("%s@%s -> version %s", name, alias, version)


def promote(
    name: str,
    version: str | int,
    *,
    metric: str = "final_val_loss",
    greater_is_better: bool = False,
    min_delta: float = 0.0,
    champion: str = CHAMPION,
    challenger: str = CHALLENGER,
) -> Promotion:
    """Make ``version`` the champion if its validation metric beats the champion's.

    The metric is read from the run each version was logged from (by default
    ``final_val_loss``, logged by :class:`MLflowCallback` for the kept weights). With no
    champion yet, the candidate becomes champion. Otherwise the champion alias moves only
    when the candidate is better by more than ``min_delta``; if not, the candidate gets the
    ``challenger`` alias and the champion stays.

    Compare metrics computed on the same validation data (same split, same seed) — e.g.
    candidates fitted by the same pipeline on the same data.

    Parameters
    ----------
    name : str
        Registered model.
    version : str or int
        Candidate version.
    metric : str, default="final_val_loss"
    greater_is_better : bool, default=False
    min_delta : float, default=0.0
        Required improvement.
    champion, challenger : str, default="champion", "challenger"
        Alias names.

    Returns
    -------
    Promotion

    Raises
    ------
    RegistryError
        If the version does not exist or a run lacks ``metric``.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    version = str(version)
    try:
        candidate = client.get_model_version(name, version)
    except MlflowException as exc:
        raise RegistryError(
            f"Registered model {name!r} has no version {version!r} ({exc.message}). "
            "Check the name and version (mlflow.search_model_versions)."
        ) from exc
    cand_value = _run_metric(client, candidate, metric)
    current = _alias_version(client, name, champion)

    def outcome(promoted: bool, champ_value: float | None, reason: str) -> Promotion:
        return Promotion(
            promoted=promoted,
            name=name,
            version=version,
            previous_champion=current,
            metric=metric,
            candidate_value=cand_value,
            champion_value=champ_value,
            reason=reason,
        )

    if current is None:
        set_alias(name, champion, version)
        return outcome(True, None, f"no version held '{champion}'")
    if current == version:
        return outcome(True, cand_value, f"version {version} already is '{champion}'")
    champ_value = _run_metric(client, client.get_model_version(name, current), metric)
    gain = cand_value - champ_value if greater_is_better else champ_value - cand_value
    comparison = (
        f"{metric}: candidate {cand_value:.6g} vs champion {champ_value:.6g} (version "
        f"{current}); {'higher' if greater_is_better else 'lower'} is better, min_delta "
        f"{min_delta:g}"
    )
    if gain > min_delta:
        set_alias(name, champion, version)
        if _alias_version(client, name, challenger) == version:
            client.delete_registered_model_alias(name, challenger)
        result = outcome(True, champ_value, f"candidate is better: {comparison}")
    else:
        set_alias(name, challenger, version)
        result = outcome(False, champ_value, f"candidate is not better: {comparison}")
    logger.info("promote %s version %s: %s", name, version, result.reason)
    return result


def _run_metric(client: Any, model_version: Any, metric: str) -> float:
    run_id = model_version.run_id
    if not run_id:
        raise RegistryError(
            f"Version {model_version.version} of {model_version.name!r} was not logged from "
            f"a run, so it has no '{metric}'. Log models with latentode.tracking.log_model "
            "after a tracked fit."
        )
    metrics = client.get_run(run_id).data.metrics
    value = metrics.get(metric)
    if value is None or not math.isfinite(value):
        raise RegistryError(
            f"Run {run_id} of version {model_version.version} of {model_version.name!r} has "
            f"no finite metric '{metric}' (it has {sorted(metrics)[:12]}). Pass another "
            "'metric' or track the fit with autolog() / MLflowCallback."
        )
    return float(value)


def _alias_version(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(name, alias).version
    except MlflowException:
        return None
    return str(version)


def latest_version(name: str) -> str:
    """The newest version number of registered model ``name``."""
    from mlflow import MlflowClient

    versions = MlflowClient().search_model_versions(f"name = '{name}'")
    if not versions:
        raise RegistryError(f"Registered model {name!r} has no versions (or does not exist).")
    return str(max(int(v.version) for v in versions))


def load_estimator(model_uri: str, *, device: str | None = None) -> Any:
    """The latentode estimator of a logged MLflow model (``models:/name@alias``,
    ``models:/name/3``, ``runs:/<run_id>/model``, a local model directory).

    Only the estimator artifact is read — with the *installed* latentode, so no code from
    the model directory runs — after its files are checked against the SHA-256 digests
    logged with it (:class:`~latentode.exceptions.ModelFileError` if they differ).

    Raises
    ------
    RegistryError
        If the URI names no model MLflow can find.
    """
    import os
    import tempfile

    import mlflow
    import yaml
    from mlflow.exceptions import MlflowException

    from latentode import load
    from latentode.tracking._pyfunc import DIGESTS_ARTIFACT, ESTIMATOR_ARTIFACT, check_digests

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    base = model_uri.rstrip("/")

    def fetch(path: str, into: Path) -> Path:
        try:
            got = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{base}/{path}", dst_path=str(into)
            )
        except (MlflowException, OSError) as exc:
            raise RegistryError(
                f"Cannot fetch {path!r} of the model {model_uri!r}: "
                f"{str(exc).strip().splitlines()[0]}"
            ) from exc
        return Path(got)

    with tempfile.TemporaryDirectory(prefix="latentode-fetch-") as tmp:
        # Only what the estimator needs: the MLmodel file names the artifacts' paths.
        try:
            mlmodel = yaml.safe_load(fetch("MLmodel", Path(tmp) / "meta").read_text())
            paths = mlmodel["flavors"]["python_function"]["artifacts"]
            estimator_path = str(paths[ESTIMATOR_ARTIFACT]["path"])
            digests_path = str(paths[DIGESTS_ARTIFACT]["path"])
        except (yaml.YAMLError, KeyError, TypeError) as exc:
            raise RegistryError(
                f"{model_uri!r} is not a latentode model: its MLmodel names no "
                f"'{ESTIMATOR_ARTIFACT}' and '{DIGESTS_ARTIFACT}' artifacts (log models with "
                "latentode.tracking.log_model)."
            ) from exc
        estimator_dir = fetch(estimator_path, Path(tmp) / "estimator")
        digests_file = fetch(digests_path, Path(tmp) / "digests")
        check_digests(estimator_dir, digests_file)
        return load(estimator_dir, device=device)
