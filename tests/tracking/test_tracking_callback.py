"""MLflowCallback and autolog against a real SQLite tracking store."""

from __future__ import annotations

import socket
from typing import Any

import pandas as pd
import pytest

from latentode.tracking import MLflowCallback, TrackingWarning, autolog
from latentode.training import Callback

EPOCH_METRICS = {
    "train_loss",
    "train_mse",
    "kl",
    "nfe_forward",
    "nfe_backward",
    "val_loss",
    "val_mse",
    "seconds",
}


def _runs(experiment: str) -> pd.DataFrame:
    import mlflow

    return mlflow.search_runs(experiment_names=[experiment], order_by=["start_time ASC"])


def test_callback_logs_params_data_metrics_and_plots(
    forecaster: Any, experiment: str, series: pd.DataFrame
):
    import mlflow

    est = forecaster(max_epochs=3, callbacks=[MLflowCallback(data=series)])
    est.fit(series)
    (run_id,) = _runs(experiment)["run_id"]
    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["latent_dim"] == "3" and params["method"] == "rk4"
    assert params["estimator_class"] == "LatentODEForecaster"
    assert "callbacks" not in params
    assert params["data.n_series"] == "24"
    import torch

    from latentode import __version__

    assert run.data.tags["versions.latentode"] == __version__
    assert run.data.tags["versions.torch"] == torch.__version__
    for key in ("data.n_observations", "data.time_span", "data.missing_fraction"):
        assert key in params
    client = mlflow.MlflowClient()
    for key in EPOCH_METRICS:
        history = client.get_metric_history(run_id, key)
        assert [m.step for m in history] == [1, 2, 3], key
    train_loss = [m.value for m in client.get_metric_history(run_id, "train_loss")]
    assert train_loss == pytest.approx([h["train_loss"] for h in est.history_])
    metrics = run.data.metrics
    assert metrics["n_epochs"] == 3
    kept = next(h for h in est.history_ if h["epoch"] == metrics["best_epoch"])
    assert metrics["final_val_loss"] == pytest.approx(kept["val_loss"])
    nfe_total = sum(h["nfe_forward"] for h in est.history_)
    assert metrics["nfe_forward_total"] == pytest.approx(nfe_total)
    artifacts = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert artifacts == {"plots/training.png", "plots/forecast_y.png"}
    summary = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/data_summary.json")
    assert summary["n_series"] == 24
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "training"
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"


def test_forecast_plot_and_calibration_are_those_of_the_fitted_estimator(
    forecaster: Any, experiment: str, series: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
):
    """The forecast plot is drawn after the noise calibration: its band is the served one."""
    import mlflow

    import latentode.plotting.forecast as forecast_plots
    from latentode.tracking import _plots

    drawn: list[pd.DataFrame] = []
    draw = forecast_plots.plot_forecast

    def spy(history: Any, prediction: pd.DataFrame, **kwargs: Any) -> Any:
        drawn.append(prediction.copy())
        return draw(history, prediction, **kwargs)

    monkeypatch.setattr(forecast_plots, "plot_forecast", spy)
    callback = MLflowCallback(data=series, plot_series=2)
    est = forecaster(callbacks=[callback])
    est.fit(series)
    callback.on_estimator_fitted(est)
    callback.on_estimator_fitted(est)  # once per fit
    assert est.noise_calibration_ is not None
    (band,) = drawn
    frame, at = _plots._series_grid(est, series, 2)
    served = est.predict_interval(frame, at=at, coverage=0.9)
    pd.testing.assert_series_equal(
        band["y_upper"] - band["y_lower"], served["y_upper"] - served["y_lower"]
    )

    (run_id,) = _runs(experiment)["run_id"]
    run = mlflow.get_run(run_id)
    logged = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/noise_calibration.json")
    assert logged == est.noise_calibration_  # JSON round-trips floats exactly
    assert run.data.metrics["calibrated_std_y"] == pytest.approx(
        est.noise_calibration_["calibrated_std"][0]
    )
    plots = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "plots")}
    assert plots == {"plots/training.png", "plots/forecast_y.png"}


def test_a_failed_fit_logs_no_end_of_fit_artifacts(
    forecaster: Any, experiment: str, series: pd.DataFrame
):
    import mlflow

    callback = MLflowCallback(data=series)
    est = forecaster(callbacks=[callback, _Boom()])
    with pytest.raises(KeyboardInterrupt):
        est.fit(series)
    callback.on_estimator_fitted(est)
    (run_id,) = _runs(experiment)["run_id"]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id)}
    assert "noise_calibration.json" not in artifacts and "plots" not in artifacts


def test_fit_under_an_active_run_gets_a_child_run(
    forecaster: Any, experiment: str, series: pd.DataFrame, tmp_path: Any
):
    import mlflow

    other = f"parent-{tmp_path.name}"
    other_id = mlflow.create_experiment(other, artifact_location=(tmp_path / "p").as_uri())
    with mlflow.start_run(experiment_id=other_id) as parent:  # not the current experiment
        forecaster(callbacks=[MLflowCallback()]).fit(series)
        assert mlflow.active_run().info.run_id == parent.info.run_id
    runs = _runs(other)
    child = runs[runs["run_id"] != parent.info.run_id]  # in its parent's experiment
    assert child["tags.mlflow.parentRunId"].tolist() == [parent.info.run_id]
    assert _runs(experiment).empty


def test_autolog_tracks_every_fit_until_disabled(
    forecaster: Any, experiment: str, series: pd.DataFrame
):
    autolog(tags={"team": "forecasting"})
    try:
        forecaster().fit(series)
        forecaster(max_epochs=1).fit(series)
    finally:
        autolog(disable=True)
    forecaster(max_epochs=1).fit(series)
    runs = _runs(experiment)
    assert len(runs) == 2
    assert runs["tags.team"].tolist() == ["forecasting"] * 2
    assert runs["tags.latentode.estimator"].tolist() == ["LatentODEForecaster"] * 2
    assert runs["metrics.n_epochs"].tolist() == [2, 1]


def test_autolog_leaves_estimators_with_their_own_callback_alone(
    forecaster: Any, experiment: str, series: pd.DataFrame
):
    autolog()
    try:
        forecaster(callbacks=[MLflowCallback(run_name="mine")]).fit(series)
    finally:
        autolog(disable=True)
    assert _runs(experiment)["tags.mlflow.runName"].tolist() == ["mine"]


def test_autolog_experiment_name(
    forecaster: Any, tracking_uri: str, series: pd.DataFrame, tmp_path: Any
):
    import mlflow

    name = f"autolog-{tmp_path.name}"
    mlflow.create_experiment(name, artifact_location=(tmp_path / "a").as_uri())
    autolog(experiment_name=name, log_plots=False)
    try:
        forecaster(max_epochs=1).fit(series)
    finally:
        autolog(disable=True)
    (run_id,) = _runs(name)["run_id"]
    assert not mlflow.MlflowClient().list_artifacts(run_id, "plots")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_store_warns_and_the_fit_goes_on(
    forecaster: Any, monkeypatch: pytest.MonkeyPatch, series: pd.DataFrame
):
    import mlflow

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    try:
        est = forecaster(callbacks=[MLflowCallback()])
        with pytest.warns(TrackingWarning, match="failed while starting a run") as record:
            est.fit(series)
    finally:
        mlflow.set_tracking_uri(previous)
    assert len(record) == 1
    assert len(est.history_) == 2
    assert mlflow.active_run() is None


def test_artifact_store_failure_warns_once_and_the_fit_goes_on(
    forecaster: Any, tracking_uri: str, series: pd.DataFrame, tmp_path: Any
):
    import mlflow

    # /dev/full is a file: no directory can be made under it (like a full or read-only disk).
    name = f"broken-{tmp_path.name}"
    mlflow.create_experiment(name, artifact_location="/dev/full/artifacts")
    est = forecaster(max_epochs=3, callbacks=[MLflowCallback(experiment_name=name)])
    with pytest.warns(TrackingWarning, match="MLflow tracking failed while logging parameters"):
        est.fit(series)
    assert len(est.history_) == 3
    (run_id,) = _runs(name)["run_id"]
    assert mlflow.get_run(run_id).info.status == "FINISHED"


class _BreakLogs(Callback):
    """Puts a metric name MLflow refuses into the logs of epoch 2."""

    def on_epoch_end(self, trainer: Any, logs: dict[str, Any]) -> None:
        if logs["epoch"] == 2:
            logs["bad\x00name"] = 1.0


def test_failure_mid_fit_warns_and_stops_tracking_only(
    forecaster: Any, experiment: str, series: pd.DataFrame
):
    import mlflow

    est = forecaster(max_epochs=4, callbacks=[_BreakLogs(), MLflowCallback()])
    with pytest.warns(TrackingWarning, match="failed while logging epoch metrics") as record:
        est.fit(series)
    assert len(record) == 1
    assert len(est.history_) == 4
    (run_id,) = _runs(experiment)["run_id"]
    steps = [m.step for m in mlflow.MlflowClient().get_metric_history(run_id, "train_loss")]
    assert steps == [1]
    assert mlflow.active_run() is None


class _Boom(Callback):
    def on_epoch_end(self, trainer: Any, logs: dict[str, Any]) -> None:
        raise KeyboardInterrupt


def test_interrupted_fit_marks_the_run_failed(
    forecaster: Any, experiment: str, series: pd.DataFrame
):
    import mlflow

    est = forecaster(callbacks=[MLflowCallback(), _Boom()])
    with pytest.raises(KeyboardInterrupt):
        est.fit(series)
    (run_id,) = _runs(experiment)["run_id"]
    assert mlflow.get_run(run_id).info.status == "FAILED"
    assert mlflow.active_run() is None
