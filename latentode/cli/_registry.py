"""``latentode register | promote``: a saved model into the MLflow registry, and its aliases.

``register`` logs a saved estimator as an MLflow pyfunc model in a new run (with the
metrics of a ``latentode evaluate`` report, logged as ``eval_<task>_<metric>``) and
registers it; ``promote`` moves the ``champion`` alias to a version when its metric beats
the champion's. Both use ``--tracking-uri`` (default ``$MLFLOW_TRACKING_URI``, else
``sqlite:///mlflow.db``: MLflow 3 refuses a plain ``./mlruns`` file store).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from latentode.cli._io import echo, load_model

__all__ = ["DEFAULT_TRACKING_URI", "promote", "register", "use_tracking_uri"]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def use_tracking_uri(uri: str | None) -> str:
    import mlflow

    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    mlflow.set_tracking_uri(chosen)
    return chosen


def register(args: argparse.Namespace) -> int:
    import mlflow

    from latentode.exceptions import ParameterError
    from latentode.tracking import log_model, set_alias

    uri = use_tracking_uri(args.tracking_uri)
    metrics = _report_metrics(args.metrics) if args.metrics else {}
    est = load_model(args.model)
    example = None
    if args.example:
        from latentode.cli._io import read_frame

        example = read_frame(args.example, est.id_col, est.time_col, False)
    mlflow.set_experiment(args.experiment)
    try:
        with mlflow.start_run(run_name=args.run_name or f"register-{args.name}") as run:
            mlflow.log_params({"source_model": str(args.model)[:500]})
            if metrics:
                mlflow.log_metrics(metrics)
            info = log_model(est, registered_model_name=args.name, input_example=example)
    except ValueError as exc:  # an input example that does not fit the model
        raise ParameterError(f"--example {args.example!r}: {exc}") from None
    version = str(info.registered_model_version)
    if args.alias:
        set_alias(args.name, args.alias, version)
    alias = f", alias '{args.alias}'" if args.alias else ""
    echo(
        f"registered {args.name!r} version {version}{alias} (run {run.info.run_id}, "
        f"{len(metrics)} metrics) in {uri}"
    )
    return 0


def _report_metrics(path: str) -> dict[str, float]:
    """``eval_<task>_<metric>`` of the model and ``eval_<task>_<baseline>_<metric>`` of
    each baseline, from a ``latentode evaluate --output`` report."""
    from latentode.exceptions import ParameterError

    try:
        report = json.loads(Path(path).read_text())
        task, results = report["task"], report["metrics"]
        out = {}
        for method, scores in results.items():
            prefix = f"eval_{task}" if method == "latent ODE" else f"eval_{task}_{method}"
            for metric, value in scores.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    out[f"{prefix}_{metric}"] = float(value)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ParameterError(
            f"--metrics {path!r} is not a report written by 'latentode evaluate --output' "
            f"({type(exc).__name__}: {exc})."
        ) from None
    return out


def promote(args: argparse.Namespace) -> int:
    from latentode.tracking import latest_version
    from latentode.tracking import promote as promote_version

    use_tracking_uri(args.tracking_uri)
    version = latest_version(args.name) if args.version == "latest" else args.version
    result = promote_version(
        args.name,
        version,
        metric=args.metric,
        greater_is_better=args.greater_is_better,
        min_delta=args.min_delta,
    )
    verb = "is champion" if result.promoted else "stays challenger"
    echo(f"{args.name!r} version {version} {verb}: {result.reason}")
    return 0
