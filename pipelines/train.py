"""Fit a LatentODEForecaster on a long frame, track it, log and register the model.

Usage::

    python pipelines/train.py --data demo/train.parquet --model-name latentode-forecaster

The fit is tracked (params, data summary, per-epoch metrics, plots), the model is logged
and registered as a new version of ``--model-name``; with ``--promote true`` the version
becomes ``champion`` when its ``final_val_loss`` beats the current champion's, else
``challenger``. The tracking store is ``MLFLOW_TRACKING_URI`` (default
``sqlite:///mlflow.db``).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import mlflow
import pandas as pd

from latentode import LatentODEForecaster
from latentode.tracking import MLflowCallback, log_model, promote

logger = logging.getLogger("latentode.pipelines.train")


def read_frame(path: str) -> pd.DataFrame:
    """A long frame from a parquet file / directory or a CSV file."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return pd.read_csv(p)
    return pd.read_parquet(p)


def _flag(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def main(argv: list[str] | None = None) -> dict:
    """Train, log, register (and promote); return a summary dict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="long frame: parquet or CSV")
    parser.add_argument("--model-name", default="latentode-forecaster")
    parser.add_argument("--experiment", default=None, help="MLflow experiment name")
    parser.add_argument("--latent-dim", type=float, default=8)
    parser.add_argument("--max-epochs", type=float, default=30)
    parser.add_argument("--method", default="euler")
    parser.add_argument("--random-state", type=float, default=0)
    parser.add_argument("--promote", default="true", help="true/false")
    args = parser.parse_args(argv)

    frame = read_frame(args.data)
    estimator = LatentODEForecaster(
        latent_dim=int(args.latent_dim),
        max_epochs=int(args.max_epochs),
        method=args.method,
        random_state=int(args.random_state),
        callbacks=[MLflowCallback(experiment_name=args.experiment, data=frame)],
    )
    if args.experiment is not None:
        mlflow.set_experiment(args.experiment)
    with mlflow.start_run(run_name=f"train-{args.model_name}-{time.strftime('%Y%m%d-%H%M%S')}"):
        estimator.fit(frame)
        info = log_model(
            estimator,
            name="model",
            registered_model_name=args.model_name,
            input_example=frame,
        )
    version = str(info.registered_model_version)
    summary = {"model_uri": info.model_uri, "run_id": info.run_id, "version": version}
    if _flag(args.promote):
        result = promote(args.model_name, version)
        summary.update(promoted=result.promoted, reason=result.reason)
    logger.info("%s", summary)
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    main()
