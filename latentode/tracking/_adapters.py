"""Per-estimator adapters: what a logged model takes, returns and declares.

:func:`log_model` and the pyfunc wrapper are generic; everything that depends on the kind of
estimator lives in one small adapter per estimator class:

==========================  =========================================  ======================
estimator                   request (one pandas frame)                 response
==========================  =========================================  ======================
``LatentODEForecaster``     long frame: history + ``role="query"``     mean, quantile and
                            rows, or history + ``horizon``             interval columns
``NeuralODEDynamics``       long frame: history + query rows /         state columns
                            ``horizon``
``FFJORDDensity``           one row per point, feature columns         ``log_density``
``SeriesAnomalyDetector``   long frame of whole series                 one row per series:
                                                                       ``score``,
                                                                       ``decision``,
                                                                       ``is_anomaly``, the
                                                                       two components
==========================  =========================================  ======================

Adapters are looked up by the estimator's registered task (see
:func:`latentode.estimators.estimator_task`; a :class:`~latentode.SeriesAnomalyDetector`,
which wraps two registered estimators, is the ``"anomaly"`` task); MLflow types are imported inside
:meth:`signature`, so importing this module does not import MLflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from latentode.data import intervals, to_pandas
from latentode.estimators import ESTIMATORS, estimator_task
from latentode.estimators.anomaly import COMPONENTS, SeriesAnomalyDetector
from latentode.exceptions import LongFrameError, ParameterError
from latentode.tracking._payload import (
    DEFAULT_QUANTILES,
    HISTORY,
    QUERY,
    ROLE_COL,
    ForecastParams,
    check_request,
    check_request_size,
    quantile_columns,
    split_payload,
)

__all__ = [
    "ADAPTERS",
    "Adapter",
    "AnomalyAdapter",
    "DensityAdapter",
    "LongFrameAdapter",
    "adapter_for",
    "output_columns",
]

#: ``output_columns`` kinds: the id column, the time column, or a float column.
ID, TIME, FLOAT = "id", "time", "float"
LOG_DENSITY_COL = "log_density"
#: An anomaly detector's response columns after the id: ``score_samples`` (lower: more
#: anomalous), ``decision_function``, 1.0 where ``predict`` says anomalous (else 0.0), and
#: the two components in robust units (``score_components``).
ANOMALY_COLS = ("score", "decision", "is_anomaly", *COMPONENTS)


class Adapter(Protocol):
    """How one estimator class is logged and served."""

    task: str

    def metadata(self, est: Any) -> dict[str, Any]:
        """JSON-able description stored in the MLmodel file (read by the Spark scorer)."""

    def signature(self, est: Any, example: pd.DataFrame | None) -> Any:
        """The MLflow ``ModelSignature`` (inputs, outputs, inference params)."""

    def example(self, est: Any, data: Any) -> pd.DataFrame:
        """An input example for the MLmodel, built from user data."""

    def predict(
        self,
        est: Any,
        frame: Any,
        params: Mapping[str, Any] | None,
        meta: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Answer one request frame; invalid requests raise latentode's ValueErrors
        (:class:`LongFrameError`, :class:`QueryError`, :class:`ParameterError`), which the
        pyfunc turns into HTTP 400."""


@dataclass(frozen=True)
class LongFrameAdapter:
    """Forecasting and dynamics models: long-frame requests of history and query rows.

    Parameters
    ----------
    task : {"forecast", "dynamics"}
        Forecasts add quantile / interval columns and a ``num_samples`` parameter.
    params : tuple of str
        Inference parameters the model accepts.
    """

    task: str
    params: tuple[str, ...]

    def metadata(self, est: Any) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "class": type(est).__name__,
            "task": self.task,
            "id_col": est.id_col,
            "time_col": est.time_col,
            "feature_cols": list(est.feature_cols_),
            "time_kind": est.data_.time_.kind,
            "time_unit": est.time_unit,
        }
        if self.task == "forecast":
            meta["num_samples"] = int(est.n_samples)
            meta["static_cols"] = list(est.static_cols or ())
            meta["covariate_cols"] = list(getattr(est, "covariate_cols", None) or ())
        return meta

    def predict(
        self,
        est: Any,
        frame: Any,
        params: Mapping[str, Any] | None,
        meta: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        frame = to_pandas(frame)
        num_samples = int(est.n_samples) if self.task == "forecast" else 1
        request = ForecastParams.from_request(params, num_samples=num_samples, allowed=self.params)
        _check_columns(frame, [est.id_col, est.time_col], "request")
        check_request_size(frame, est.id_col, request)
        history, queries = split_payload(frame, id_col=est.id_col, time_col=est.time_col)
        check_request(request, queries)
        where: dict[str, Any] = (
            {"at": queries}
            if queries is not None
            else {"horizon": request.horizon, "n_points": request.n_points}
        )
        if self.task == "dynamics":
            return to_pandas(est.predict(history, **where))
        # One pass of predictive samples gives the mean, quantiles and interval.
        frame = est.predict_distribution(
            history,
            **where,
            alpha=list(request.quantiles),
            coverage=request.interval_argument,
            n_samples=request.num_samples,
        )
        return to_pandas(frame)

    def signature(self, est: Any, example: pd.DataFrame | None) -> Any:
        from mlflow.models import ModelSignature
        from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

        meta = self.metadata(est)
        id_type = _id_type(example, est.id_col)
        time_type = "datetime" if meta["time_kind"] == "datetime" else "double"
        head = [ColSpec(id_type, est.id_col), ColSpec(time_type, est.time_col)]
        features = [ColSpec("double", f) for f in meta["feature_cols"]]
        static = [
            ColSpec("double", c)
            for c in (*meta.get("static_cols", []), *meta.get("covariate_cols", []))
        ]
        inputs = Schema([*head, *features, *static, ColSpec("string", ROLE_COL, required=False)])
        floats = [name for name, kind in output_columns(meta, {}) if kind == FLOAT]
        outputs = Schema([*head, *(ColSpec("double", name) for name in floats)])
        specs = {
            "num_samples": ParamSpec("num_samples", "long", meta.get("num_samples", 1)),
            "quantiles": ParamSpec("quantiles", "double", list(DEFAULT_QUANTILES), (-1,)),
            "coverage": ParamSpec("coverage", "double", 0.0),
            "coverages": ParamSpec("coverages", "double", [], (-1,)),
            "horizon": ParamSpec("horizon", "double", 0.0),
            "n_points": ParamSpec("n_points", "long", 10),
        }
        params = ParamSchema([specs[name] for name in self.params])
        return ModelSignature(inputs=inputs, outputs=outputs, params=params)

    def default_example(self, est: Any) -> pd.DataFrame:
        """A made-up request for when no ``input_example`` is given: two series of three
        rows at the start, middle and end of the normalised training span, each feature at
        its training mean (static and covariate columns too), and one query row per series.
        Nothing of the training data is stored; it only shows the format and lets MLflow
        check it."""
        data = est.data_
        times = data.time_.decode(np.array([0.0, 0.5, 1.0]))
        if data.time_.kind == "datetime":  # whole seconds (one format for MLflow to parse),
            # inside the training span
            times = pd.Series([times[0].ceil("s"), times[1].round("s"), times[2].floor("s")])
        rows = {
            est.id_col: np.repeat(["example-a", "example-b"], 3),
            est.time_col: pd.concat([times, times], ignore_index=True),
        }
        means = np.asarray(data.scaler_.mean, dtype=np.float64)
        stds = np.asarray(data.scaler_.std, dtype=np.float64)
        for k, feature in enumerate(est.feature_cols_):
            rows[feature] = means[k] + stds[k] * np.array([-0.5, 0.0, 0.5, 0.5, 0.0, -0.5])
        static = getattr(est, "static_", None)
        if static is not None:
            for k, col in enumerate(static.static_cols):
                rows[col] = float(static.mean_[k])
        covariates = getattr(est, "covariates_", None)
        if covariates is not None:
            for k, col in enumerate(covariates.covariate_cols):
                rows[col] = float(covariates.mean_[k])
        return self.example(est, pd.DataFrame(rows))

    def example(self, est: Any, data: Any) -> pd.DataFrame:
        """Two series of ``data``; without a ``role`` column, one query row per series at
        its last time is added, so that MLflow's serving check runs a real prediction."""
        frame = to_pandas(data)
        _check_columns(frame, [est.id_col, est.time_col], "input_example")
        ids = pd.unique(frame[est.id_col])[:2]
        frame = frame[frame[est.id_col].isin(ids)].reset_index(drop=True)
        if ROLE_COL in frame.columns:
            return frame
        last = frame.sort_values(est.time_col).groupby(est.id_col, sort=False).tail(1)
        queries = last[[est.id_col, est.time_col]].assign(**{ROLE_COL: QUERY})
        frame = frame.assign(**{ROLE_COL: HISTORY})
        return pd.concat([frame, queries], ignore_index=True)[list(frame.columns)]


@dataclass(frozen=True)
class DensityAdapter:
    """Density models: one row per point (the feature columns) → ``log_density``."""

    task: str = "density"

    def metadata(self, est: Any) -> dict[str, Any]:
        return {
            "class": type(est).__name__,
            "task": self.task,
            "feature_cols": list(density_columns(est)),
        }

    def predict(
        self,
        est: Any,
        frame: Any,
        params: Mapping[str, Any] | None,
        meta: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """``meta`` keeps the feature names, which a saved density model does not."""
        frame = to_pandas(frame)
        _no_params(params, "a density model")
        cols = list((meta or {}).get("feature_cols") or density_columns(est))
        _check_columns(frame, cols, "request")
        values = frame[cols]
        non_numeric = [c for c in cols if not pd.api.types.is_numeric_dtype(values[c])]
        if non_numeric:
            raise LongFrameError(
                f"Expected numeric feature columns; {non_numeric} are not. Send numbers."
            )
        x = values.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(x).all(axis=1)
        if bad.any():
            raise LongFrameError(
                f"Expected finite feature values; {int(bad.sum())} row(s) hold NaN or inf "
                f"(first: row {int(np.flatnonzero(bad)[0])}). A density needs every value."
            )
        named = getattr(est, "feature_names_in_", None) is not None  # fitted on a frame
        scores = est.score_samples(pd.DataFrame(x, columns=cols) if named else x)
        return pd.DataFrame({LOG_DENSITY_COL: np.asarray(scores, dtype=np.float64)})

    def signature(self, est: Any, example: pd.DataFrame | None) -> Any:
        from mlflow.models import ModelSignature
        from mlflow.types import ColSpec, Schema

        inputs = Schema([ColSpec("double", c) for c in density_columns(est)])
        return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", LOG_DENSITY_COL)]))

    def example(self, est: Any, data: Any) -> pd.DataFrame:
        """Five rows of ``data`` (a frame or a 2-D array)."""
        cols = list(density_columns(est))
        if isinstance(data, np.ndarray):
            return pd.DataFrame(data[:5], columns=cols)
        return to_pandas(data)[cols].head(5).reset_index(drop=True)


@dataclass(frozen=True)
class AnomalyAdapter:
    """Series anomaly detectors: a long frame of whole series → one row per series
    (:data:`ANOMALY_COLS` after the id), in the order in which the series first appear."""

    task: str = "anomaly"

    def metadata(self, est: Any) -> dict[str, Any]:
        forecaster = est.forecaster_
        return {
            "class": type(est).__name__,
            "task": self.task,
            "id_col": forecaster.id_col,
            "time_col": forecaster.time_col,
            "feature_cols": list(forecaster.feature_cols_),
            "time_kind": forecaster.data_.time_.kind,
            "static_cols": list(forecaster.static_cols or ()),
            "covariate_cols": list(getattr(forecaster, "covariate_cols", None) or ()),
            "contamination": float(est.contamination),
        }

    def predict(
        self,
        est: Any,
        frame: Any,
        params: Mapping[str, Any] | None,
        meta: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        frame = to_pandas(frame)
        _no_params(params, "an anomaly detector")
        id_col, time_col = est.forecaster_.id_col, est.forecaster_.time_col
        _check_columns(frame, [id_col, time_col], "request")
        parts = est.score_components(frame)  # rows in order of first appearance
        score = -np.fmax.reduce(parts, axis=1)
        decision = score - est.offset_
        out = {
            id_col: pd.unique(frame[id_col]),
            "score": score,
            "decision": decision,
            "is_anomaly": (decision < 0).astype(np.float64),
        }
        out.update({name: parts[:, k] for k, name in enumerate(COMPONENTS)})
        return pd.DataFrame(out)

    def signature(self, est: Any, example: pd.DataFrame | None) -> Any:
        from mlflow.models import ModelSignature
        from mlflow.types import ColSpec, Schema

        meta = self.metadata(est)
        id_spec = ColSpec(_id_type(example, meta["id_col"]), meta["id_col"])
        time_type = "datetime" if meta["time_kind"] == "datetime" else "double"
        columns = [*meta["feature_cols"], *meta["static_cols"], *meta["covariate_cols"]]
        inputs = Schema(
            [id_spec, ColSpec(time_type, meta["time_col"])]
            + [ColSpec("double", c) for c in columns]
        )
        outputs = Schema([id_spec, *(ColSpec("double", c) for c in ANOMALY_COLS)])
        return ModelSignature(inputs=inputs, outputs=outputs)

    def example(self, est: Any, data: Any) -> pd.DataFrame:
        """Two series of ``data``."""
        frame = to_pandas(data)
        id_col = est.forecaster_.id_col
        _check_columns(frame, [id_col, est.forecaster_.time_col], "input_example")
        ids = pd.unique(frame[id_col])[:2]
        return frame[frame[id_col].isin(ids)].reset_index(drop=True)


#: Estimator task → adapter.
ADAPTERS: dict[str, Adapter] = {
    "forecast": LongFrameAdapter(
        "forecast",
        ("num_samples", "quantiles", "coverage", "coverages", "horizon", "n_points"),
    ),
    "dynamics": LongFrameAdapter("dynamics", ("horizon", "n_points")),
    "density": DensityAdapter(),
    "anomaly": AnomalyAdapter(),
}


def adapter_for(est: Any) -> Adapter:
    """The adapter of ``est``'s class.

    Raises
    ------
    ParameterError
        If the class has none.
    """
    task = "anomaly" if isinstance(est, SeriesAnomalyDetector) else estimator_task(est)
    if task is None:
        raise ParameterError(
            f"Cannot log a {type(est).__name__} as an MLflow model; expected one of "
            f"{sorted([*ESTIMATORS, SeriesAnomalyDetector.__name__])}."
        )
    return ADAPTERS[task]


def output_columns(meta: Mapping[str, Any], params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(name, kind)`` of the response columns for a model's metadata and request params.

    ``kind`` is ``"id"``, ``"time"`` or ``"float"``; used to declare Spark result schemas.
    """
    if meta["task"] == "density":
        return [(LOG_DENSITY_COL, FLOAT)]
    if meta["task"] == "anomaly":
        return [(meta["id_col"], ID), *((c, FLOAT) for c in ANOMALY_COLS)]
    features = list(meta["feature_cols"])
    cols = [(meta["id_col"], ID), (meta["time_col"], TIME)]
    cols += [(f, FLOAT) for f in features]
    if meta["task"] == "dynamics":
        return cols
    request = ForecastParams.from_request(params, num_samples=int(meta.get("num_samples", 1)))
    cols += [(c, FLOAT) for c in quantile_columns(features, request.quantiles)]
    if request.interval_argument is not None:
        bands = intervals(request.interval_argument)
        cols += [(f + side, FLOAT) for f in features for b in bands for side in (b.lower, b.upper)]
    return cols


def density_columns(est: Any) -> Sequence[str]:
    """Feature column names of a 2-D density estimator (``x0, x1, ...`` when unnamed)."""
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(int(est.n_features_in_))]


def _id_type(example: pd.DataFrame | None, id_col: str) -> str:
    if example is not None and id_col in example.columns:
        if pd.api.types.is_integer_dtype(example[id_col]):
            return "long"
    return "string"


def _no_params(params: Mapping[str, Any] | None, what: str) -> None:
    """Refuse inference parameters a model without any was sent."""
    extra = sorted(k for k, v in dict(params or {}).items() if v is not None)
    if extra:
        raise ParameterError(f"Unknown inference parameter(s) {extra}; {what} accepts none.")


def _check_columns(frame: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise LongFrameError(
            f"The {what} is missing column(s) {missing}; expected {list(cols)} (got "
            f"{list(frame.columns)}). Rename the columns or send them."
        )
