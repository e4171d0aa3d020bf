"""Fixtures for the MLflow tests: one temporary SQLite store, small series, a tiny model.

Creating an MLflow SQLite store runs its schema migrations (~8 s), so the store is made once
per session; tests use their own experiment and registered-model names.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mlflow")

HERE = Path(__file__).parent

#: MLflow itself emits UserWarning / FutureWarning on import and logging; the suite turns
#: warnings into errors, which must not apply to MLflow's own.
_MLFLOW_WARNINGS = (
    "ignore::UserWarning:mlflow.*",
    "ignore::FutureWarning:mlflow.*",
    "ignore::DeprecationWarning:pydantic.*",
    "ignore::DeprecationWarning:pyspark.*",
    "ignore::FutureWarning:pyspark.*",
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            for spec in _MLFLOW_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


def make_series(n_series: int, *, seed: int = 0, prefix: str = "s") -> pd.DataFrame:
    """Noisy sines with irregular times, uneven lengths and a few missing values."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        k = int(rng.integers(6, 14))
        t = np.sort(rng.uniform(0.0, 6.0, k))
        y = np.sin(t + rng.uniform(0, 6)) + 0.1 * rng.normal(size=k)
        y[rng.uniform(size=k) < 0.1] = np.nan
        y[0] = y[0] if np.isfinite(y[0]) else 0.0
        rows.append(pd.DataFrame({"unique_id": f"{prefix}{i:04d}", "ds": t, "y": y}))
    return pd.concat(rows, ignore_index=True)


def queries_for(frame: pd.DataFrame, *, ahead: tuple[float, ...] = (0.5, 1.5)) -> pd.DataFrame:
    """Query rows: an interpolation time and forecast times after each series' end."""
    rows = []
    for sid, g in frame.groupby("unique_id", sort=False):
        t0, t1 = float(g["ds"].min()), float(g["ds"].max())
        rows.append({"unique_id": sid, "ds": (t0 + t1) / 2})
        rows += [{"unique_id": sid, "ds": t1 + h} for h in ahead]
    return pd.DataFrame(rows)


def tiny_forecaster(**overrides: Any) -> Any:
    from latentode import LatentODEForecaster

    params: dict[str, object] = dict(
        latent_dim=3,
        encoder_hidden_dim=8,
        field_hidden_dim=16,
        max_epochs=2,
        method="rk4",  # fixed-step: a series' forecast does not depend on its batch-mates
        n_samples=8,
        random_state=0,
        device="cpu",
    )
    params.update(overrides)
    return LatentODEForecaster(**params)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# The helpers as fixtures (the suite imports test modules with --import-mode=importlib, so
# test files cannot import from this directory).
@pytest.fixture(scope="session")
def series_maker() -> Any:
    return make_series


@pytest.fixture(scope="session")
def query_maker() -> Any:
    return queries_for


@pytest.fixture(scope="session")
def forecaster() -> Any:
    return tiny_forecaster


@pytest.fixture(scope="session")
def unique_name() -> Any:
    return unique


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A temporary SQLite tracking / registry store, also exported to subprocesses."""
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ.pop("MLFLOW_REGISTRY_URI", None)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield uri
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    mlflow.set_tracking_uri(None)


@pytest.fixture
def experiment(tracking_uri: str, tmp_path: Path) -> Iterator[str]:
    """A fresh experiment (artifacts under ``tmp_path``) set as the current one."""
    import mlflow

    name = unique("exp")
    mlflow.create_experiment(name, artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_experiment(name)
    yield name
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture(scope="session")
def series() -> pd.DataFrame:
    return make_series(24, seed=1)


@pytest.fixture(scope="session")
def shared_experiment(tracking_uri: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    import mlflow

    name = unique("shared")
    root = tmp_path_factory.mktemp("artifacts")
    return mlflow.create_experiment(name, artifact_location=root.as_uri())


@pytest.fixture(scope="session")
def registered(tracking_uri: str, shared_experiment: str, series: pd.DataFrame) -> dict:
    """A tracked fit, logged and registered with the champion alias (shared, read-only)."""
    import mlflow

    from latentode.tracking import MLflowCallback, log_model, set_alias

    est = tiny_forecaster(callbacks=[MLflowCallback(experiment_name=None)])
    with mlflow.start_run(experiment_id=shared_experiment) as parent:
        est.fit(series)
        name = unique("forecaster")
        info = log_model(est, name="model", registered_model_name=name, input_example=series)
    set_alias(name, "champion", info.registered_model_version)
    return {
        "estimator": est,
        "name": name,
        "info": info,
        "parent_run_id": parent.info.run_id,
    }


def require(available: bool, reason: str) -> None:
    """Skip when an integration dependency is missing — fail instead under CI.

    ``.ci/mlflow_extra.sh`` sets ``LATENTODE_STRICT_INTEGRATION=1`` so that a CI machine
    without Java or pyspark fails these tests rather than silently skipping them.
    """
    if available:
        return
    if os.environ.get("LATENTODE_STRICT_INTEGRATION") == "1":
        pytest.fail(f"{reason} (LATENTODE_STRICT_INTEGRATION=1: required here)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local Spark session (2 cores, bound to 127.0.0.1), shared by the slow tests."""
    require(importlib.util.find_spec("pyspark") is not None, "pyspark is not installed")
    require(shutil.which("java") is not None, "Spark needs Java (no 'java' on PATH)")
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    local = tmp_path_factory.mktemp("spark")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("latentode-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.local.dir", str(local))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
