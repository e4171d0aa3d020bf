"""Batch scoring of a Spark DataFrame with a logged latentode model.

Why ``groupBy(id).applyInPandas`` and not ``mlflow.pyfunc.spark_udf``
----------------------------------------------------------------------
A forecast of series ``i`` is conditioned on *all* of series ``i``'s history rows.
``spark_udf`` calls the model on arbitrary Arrow batches of rows: one series' rows may be
split across batches (and partitions), so the model would see part of a history and
forecast from it — silently wrong. ``groupBy(id_col).applyInPandas`` hands the function
every row of one series at once (history and query rows together), which is exactly the
model's request format. Density models score rows independently, so for them any batch of
rows is a valid request and ``mapInPandas`` is used.

The model directory is downloaded once on the driver and shipped to executors with
``SparkContext.addFile``; its ``latentode`` code with ``addPyFile``. Each Python worker
loads the model once and caches it. Executors need MLflow and latentode's dependencies
(torch, ...) installed — the same as ``spark_udf(..., env_manager="local")``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from latentode.exceptions import LongFrameError, ParameterError

__all__ = ["score_spark"]

logger = logging.getLogger(__name__)

#: Per Python worker: archive name → loaded pyfunc model.
_LOADED: dict[str, Any] = {}


def score_spark(
    df: Any,
    model_uri: str,
    *,
    params: Mapping[str, Any] | None = None,
) -> Any:
    """Score a Spark DataFrame of many series with a logged latentode model.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        Forecasting / dynamics models: the request format of the README's MLflow
        section — a long frame with the model's id, time and feature columns and an
        optional ``role`` column (``"history"`` / ``"query"``), many series. Density
        models: the feature columns.
    model_uri : str
        E.g. ``"models:/demand@champion"`` (resolved on the driver).
    params : mapping, optional
        Inference parameters, the same for every series (e.g. ``{"quantiles": [0.1, 0.9]}``
        or ``{"horizon": 7.0, "n_points": 7}``).

    Returns
    -------
    pyspark.sql.DataFrame
        Forecasting / dynamics: one row per prediction — id, time, features (means), and
        quantile / interval columns (``y_q0.1`` ...: select them with backticks). Density:
        the input columns plus ``log_density``. Lazy, like every Spark transformation.

    Raises
    ------
    LongFrameError
        If ``df`` lacks a column the model needs.
    ParameterError
        If ``model_uri`` is not a latentode model or ``params`` are invalid.
    """
    import mlflow
    import mlflow.artifacts

    from latentode.tracking._adapters import output_columns

    info = mlflow.models.get_model_info(model_uri)
    meta = (info.metadata or {}).get("latentode")
    if meta is None:
        raise ParameterError(
            f"{model_uri!r} is not a latentode model (its MLmodel has no 'latentode' "
            "metadata). Log models with latentode.tracking.log_model."
        )
    params = dict(params or {})
    columns = output_columns(meta, params)  # also validates params
    archive = _ship_model(df.sparkSession, mlflow.artifacts.download_artifacts(model_uri))
    if meta["task"] == "density":
        return _score_rows(df, archive, meta, params)
    id_col, time_col = meta["id_col"], meta["time_col"]
    missing = [c for c in (id_col, time_col) if c not in df.columns]
    if missing:
        raise LongFrameError(
            f"The Spark DataFrame is missing column(s) {missing} the model needs; it has "
            f"{df.columns}. Rename the columns to the model's {[id_col, time_col]}."
        )
    schema = _result_schema(df, columns, id_col, time_col)
    names = [name for name, _ in columns]

    def predict_group(pdf: pd.DataFrame) -> pd.DataFrame:
        out = _model(archive).predict(pdf, params=params or None)
        return _conform(out, names, columns)

    return df.groupBy(id_col).applyInPandas(predict_group, schema)


def _score_rows(df: Any, archive: str, meta: Mapping[str, Any], params: dict) -> Any:
    from pyspark.sql.types import DoubleType, StructField, StructType

    features = list(meta["feature_cols"])
    missing = [c for c in features if c not in df.columns]
    if missing:
        raise LongFrameError(
            f"The Spark DataFrame is missing feature column(s) {missing}; it has {df.columns}."
        )
    schema = StructType([*df.schema.fields, StructField("log_density", DoubleType())])

    def predict_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = _model(archive)
        for pdf in batches:
            scored = model.predict(pdf[features], params=params or None)
            yield pdf.assign(log_density=scored["log_density"].to_numpy(dtype=float))

    return df.mapInPandas(predict_batches, schema)


def _result_schema(df: Any, columns: list[tuple[str, str]], id_col: str, time_col: str) -> Any:
    from pyspark.sql.types import DoubleType, StructField, StructType

    kinds = {"id": df.schema[id_col].dataType, "time": df.schema[time_col].dataType}
    return StructType(
        [StructField(name, kinds.get(kind, DoubleType()), True) for name, kind in columns]
    )


def _conform(out: pd.DataFrame, names: list[str], columns: list[tuple[str, str]]) -> pd.DataFrame:
    out = out.reindex(columns=names)
    for name, kind in columns:
        if kind == "float":
            out[name] = out[name].astype("float64")
    return out


# ---------------------------------------------------------------------- shipping the model
def _ship_model(spark: Any, local_dir: str) -> str:
    """Zip the model directory, ``addFile`` it, ``addPyFile`` its code; return the name."""
    work = Path(tempfile.mkdtemp(prefix="latentode-spark-"))
    name = f"latentode-model-{uuid.uuid4().hex[:12]}"
    archive = shutil.make_archive(str(work / name), "zip", local_dir)
    spark.sparkContext.addFile(archive)
    code = Path(local_dir) / "code"
    if (code / "latentode").is_dir():
        code_zip = shutil.make_archive(str(work / f"{name}-code"), "zip", code)
        spark.sparkContext.addPyFile(code_zip)
    return os.path.basename(archive)


def _model(archive: str) -> Any:
    """The pyfunc model shipped as ``archive``, loaded once per Python worker."""
    model = _LOADED.get(archive)
    if model is None:
        import mlflow.pyfunc
        from pyspark import SparkFiles

        target = Path(tempfile.mkdtemp(prefix="latentode-model-"))
        with zipfile.ZipFile(SparkFiles.get(archive)) as zf:
            zf.extractall(target)
        model = mlflow.pyfunc.load_model(str(target))
        _LOADED[archive] = model
    return model
