"""log_model → registry → load by alias → same predictions; invalid requests; promotion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from latentode.tracking import (
    MLflowCallback,
    RegistryError,
    log_model,
    make_payload,
    model_uri,
    pinned_requirements,
    promote,
    register,
    set_alias,
)


@pytest.fixture(scope="module")
def champion(registered: dict) -> Any:
    import mlflow

    return mlflow.pyfunc.load_model(model_uri(registered["name"], "champion"))


def test_loaded_by_alias_predicts_like_the_estimator(
    query_maker: Any, registered: dict, champion: Any, series: pd.DataFrame
) -> None:
    est = registered["estimator"]
    queries = query_maker(series)
    out = champion.predict(
        make_payload(series, queries), params={"quantiles": [0.1, 0.9], "coverage": 0.8}
    )
    mean = est.predict(series, at=queries)
    qs = est.predict_quantiles(series, at=queries, alpha=[0.1, 0.9])
    iv = est.predict_interval(series, at=queries, coverage=0.8)
    expected = pd.concat(
        [mean, qs[["y_q0.1", "y_q0.9"]], iv[["y_lower", "y_upper"]]], axis=1
    ).reset_index(drop=True)
    pd.testing.assert_frame_equal(out, expected, check_exact=True)


def test_several_interval_levels_in_one_request(
    query_maker: Any, registered: dict, champion: Any, series: pd.DataFrame
) -> None:
    est = registered["estimator"]
    queries = query_maker(series)
    params = {"quantiles": [], "coverages": [0.8, 0.95]}
    out = champion.predict(make_payload(series, queries), params=params)
    expected = est.predict_interval(series, at=queries, coverage=[0.8, 0.95])
    assert list(out.columns) == ["unique_id", "ds", "y", *(
        f"y_{side}_{level}" for level in (80, 95) for side in ("lower", "upper")
    )]  # fmt: skip
    pd.testing.assert_frame_equal(out, expected.reset_index(drop=True), check_exact=True)


def test_default_params_give_mean_and_three_quantiles(
    query_maker: Any, registered: dict, champion: Any, series: pd.DataFrame
) -> None:
    out = champion.predict(make_payload(series, query_maker(series)))
    assert list(out.columns) == ["unique_id", "ds", "y", "y_q0.1", "y_q0.5", "y_q0.9"]


def test_horizon_request(registered: dict, champion: Any, series: pd.DataFrame) -> None:
    est = registered["estimator"]
    out = champion.predict(series, params={"horizon": 2.0, "n_points": 4, "quantiles": []})
    expected = est.predict(series, horizon=2.0, n_points=4)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), expected.reset_index(drop=True))


def test_num_samples_param_is_used(
    query_maker: Any, registered: dict, champion: Any, series: pd.DataFrame
) -> None:
    est = registered["estimator"]
    q = query_maker(series)
    out = champion.predict(make_payload(series, q), params={"num_samples": 3, "quantiles": []})
    pd.testing.assert_frame_equal(
        out, est.predict(series, at=q, n_samples=3).reset_index(drop=True)
    )


def test_the_registered_version_belongs_to_the_tracked_fit(registered: dict) -> None:
    import mlflow

    info = registered["info"]
    run = mlflow.get_run(info.run_id)
    assert run.data.tags["mlflow.parentRunId"] == registered["parent_run_id"]
    assert "final_val_loss" in run.data.metrics
    version = mlflow.MlflowClient().get_model_version_by_alias(registered["name"], "champion")
    assert version.run_id == info.run_id


def test_model_files_signature_and_requirements(registered: dict, tmp_path: Path) -> None:
    import mlflow
    import torch

    uri = model_uri(registered["name"], "champion")
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path)))
    assert (local / "code" / "latentode" / "__init__.py").is_file()
    assert not list((local / "code").rglob("__pycache__"))
    assert (local / "artifacts" / "estimator" / "weights.pt").is_file()
    requirements = (local / "requirements.txt").read_text().splitlines()
    assert f"torch=={torch.__version__}" in requirements
    assert f"mlflow=={mlflow.__version__}" in requirements
    assert requirements == [r for r in pinned_requirements() if r in requirements]

    info = mlflow.models.get_model_info(uri)
    inputs = {c["name"]: c for c in info.signature.inputs.to_dict()}
    assert inputs["unique_id"]["type"] == "string" and inputs["ds"]["type"] == "double"
    assert inputs["y"]["type"] == "double"
    assert inputs["role"]["required"] is False
    params = {p.name: p for p in info.signature.params.params}
    assert set(params) == {
        "num_samples", "quantiles", "coverage", "coverages", "horizon", "n_points"
    }  # fmt: skip
    assert params["num_samples"].default == 8
    assert params["quantiles"].default == [0.1, 0.5, 0.9]
    outputs = [c["name"] for c in info.signature.outputs.to_dict()]
    assert outputs == ["unique_id", "ds", "y", "y_q0.1", "y_q0.5", "y_q0.9"]
    meta = info.metadata["latentode"]
    assert meta["class"] == "LatentODEForecaster" and meta["feature_cols"] == ["y"]


def test_log_model_leaves_the_estimator_usable(registered: dict, series: pd.DataFrame) -> None:
    est = registered["estimator"]
    assert est.predict(series, horizon=1.0, n_points=2).shape == (48, 3)
    assert len(est.callbacks) == 1  # its own parameter is untouched


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.assign(role=p["role"].replace("query", "future")), "'role' column must"),
        (lambda p: p[p["role"] == "history"], "says nowhere to predict"),
        (lambda p: p.assign(role="query"), "no 'history' row"),
        (
            lambda p: p[~((p["role"] == "history") & (p["unique_id"] == "s0003"))],
            r"1 series id\(s\) in the query frame 'at' have no history: 's0003'",
        ),
    ],
)
def test_invalid_requests_raise_invalid_parameter_value(
    query_maker: Any, champion: Any, series: pd.DataFrame, change: Any, message: str
) -> None:
    from mlflow.exceptions import MlflowException

    payload = change(make_payload(series, query_maker(series)))
    with pytest.raises(MlflowException, match=message) as info:
        champion.predict(payload)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_invalid_params_raise_invalid_parameter_value(
    query_maker: Any, champion: Any, series: pd.DataFrame
):
    from mlflow.exceptions import MlflowException

    payload = make_payload(series, query_maker(series))
    with pytest.raises(MlflowException, match="'quantiles' parameter must hold") as info:
        champion.predict(payload, params={"quantiles": [0.5, 2.0]})
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="expected one of the two"):
        champion.predict(payload, params={"horizon": 1.0})


def test_log_model_refuses_an_unfitted_or_unknown_estimator(
    tracking_uri: str, forecaster: Any
) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LinearRegression

    from latentode.exceptions import ParameterError

    with pytest.raises(NotFittedError):
        log_model(forecaster())
    with pytest.raises(ParameterError, match="Cannot log a LinearRegression as an MLflow model"):
        log_model(LinearRegression())


def _fit_and_register(
    forecaster: Any, data: pd.DataFrame, name: str, experiment_id: str, **params: Any
) -> tuple[str, float]:
    import mlflow

    est = forecaster(callbacks=[MLflowCallback(log_plots=False)], **params)
    with mlflow.start_run(experiment_id=experiment_id):
        est.fit(data)
        info = log_model(est, registered_model_name=name)
    value = mlflow.get_run(info.run_id).data.metrics["final_val_loss"]
    return str(info.registered_model_version), value


def test_promotion_moves_champion_only_for_a_better_candidate(
    shared_experiment: str, forecaster: Any, series_maker: Any, unique_name: Any
) -> None:
    import mlflow

    data = series_maker(16, seed=3)
    client = mlflow.MlflowClient()
    name = unique_name("promo")
    v1, loss1 = _fit_and_register(forecaster, data, name, shared_experiment, max_epochs=1)
    first = promote(name, v1)
    assert first.promoted and first.previous_champion is None
    v2, loss2 = _fit_and_register(forecaster, data, name, shared_experiment, max_epochs=3, lr=0.02)
    assert loss1 != loss2
    second = promote(name, v2)
    assert second.promoted == (loss2 < loss1)
    assert (second.candidate_value, second.champion_value) == (loss2, loss1)
    winner, loser = (v2, v1) if loss2 < loss1 else (v1, v2)
    assert str(client.get_model_version_by_alias(name, "champion").version) == winner
    if loser == v2:
        assert str(client.get_model_version_by_alias(name, "challenger").version) == v2
    # Requiring an improvement larger than any difference keeps the champion in place.
    v3, _ = _fit_and_register(forecaster, data, name, shared_experiment, max_epochs=2)
    third = promote(name, v3, min_delta=np.inf)
    assert not third.promoted
    assert "candidate is not better" in third.reason
    assert str(client.get_model_version_by_alias(name, "champion").version) == winner
    assert str(client.get_model_version_by_alias(name, "challenger").version) == v3
    # A manual move is one call; load by alias follows it.
    set_alias(name, "champion", v3)
    loaded = mlflow.pyfunc.load_model(model_uri(name))
    assert loaded.metadata.run_id == client.get_model_version(name, v3).run_id


def test_promotion_errors_name_what_is_missing(shared_experiment: str, registered: dict) -> None:
    with pytest.raises(RegistryError, match="has no version '99'"):
        promote(registered["name"], 99)
    with pytest.raises(RegistryError, match="no finite metric 'final_crps'"):
        promote(
            registered["name"], registered["info"].registered_model_version, metric="final_crps"
        )


def test_register_with_alias(registered: dict, unique_name: Any) -> None:
    import mlflow

    name = unique_name("copy")
    version = register(registered["info"].model_uri, name, alias="challenger")
    alias = mlflow.MlflowClient().get_model_version_by_alias(name, "challenger")
    assert str(alias.version) == str(version.version) == "1"


def test_datetime_times_and_integer_ids(
    experiment: str, forecaster: Any, series_maker: Any, query_maker: Any
) -> None:
    import mlflow

    frame = series_maker(8, seed=5)
    frame["unique_id"] = frame["unique_id"].str[1:].astype("int64")
    start = pd.Timestamp("2024-01-01")
    frame["ds"] = start + pd.to_timedelta(frame["ds"], unit="D")
    est = forecaster(time_unit="D").fit(frame)
    info = log_model(est, input_example=frame)
    inputs = {c["name"]: c["type"] for c in info.signature.inputs.to_dict()}
    assert (inputs["unique_id"], inputs["ds"]) == ("long", "datetime")
    queries = query_maker(frame.assign(ds=(frame["ds"] - start).dt.total_seconds() / 86400))
    queries["ds"] = start + pd.to_timedelta(queries["ds"], unit="D")
    model = mlflow.pyfunc.load_model(info.model_uri)
    out = model.predict(make_payload(frame, queries), params={"quantiles": []})
    pd.testing.assert_frame_equal(out, est.predict(frame, at=queries).reset_index(drop=True))
    ahead = model.predict(frame, params={"horizon": 2.0, "n_points": 2, "quantiles": []})
    expected = est.predict(frame, horizon=2.0, n_points=2)
    pd.testing.assert_frame_equal(ahead.reset_index(drop=True), expected.reset_index(drop=True))


def test_model_config_chooses_the_device(registered: dict) -> None:
    import mlflow

    uri = model_uri(registered["name"], "champion")
    model = mlflow.pyfunc.load_model(uri, model_config={"device": "cpu"})
    assert model.unwrap_python_model()._estimator.device_.type == "cpu"
    # the override reaches the model (MLflow drops model_config keys not logged with it)
    assert model.model_config["device"] == "cpu"


def test_a_model_with_static_covariates_declares_and_serves_them(
    tracking_uri: str, experiment: str, series: pd.DataFrame, query_maker: Any, forecaster: Any
) -> None:
    import mlflow

    codes = pd.factorize(series["unique_id"])[0]
    frame = series.assign(level=(codes % 3).astype(float))
    est = forecaster(static_cols=["level"], observation="anchored").fit(frame)
    with mlflow.start_run():  # in ``experiment``, the current one
        info = log_model(est, name="model", input_example=frame)
    inputs = [c["name"] for c in info.signature.inputs.to_dict()]
    assert "level" in inputs
    model = mlflow.pyfunc.load_model(info.model_uri)
    queries = query_maker(frame)
    out = model.predict(make_payload(frame, queries), params={"quantiles": []})
    expected = est.predict(frame, at=queries)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), expected.reset_index(drop=True))
    # the covariate matters: another value of it gives another forecast
    shifted = model.predict(
        make_payload(frame.assign(level=frame["level"] + 2.0), queries), params={"quantiles": []}
    )
    assert not np.allclose(shifted["y"].to_numpy(), out["y"].to_numpy())


def test_a_model_with_time_varying_covariates_declares_and_serves_them(
    tracking_uri: str, experiment: str, series: pd.DataFrame, query_maker: Any, forecaster: Any
) -> None:
    import mlflow

    frame = series.assign(dose=np.sin(series["ds"].to_numpy(dtype=float)))
    est = forecaster(covariate_cols=["dose"], observation="gaussian").fit(frame)
    with mlflow.start_run():  # no input_example: the made-up one must carry the covariate
        info = log_model(est, name="model")
    inputs = [c["name"] for c in info.signature.inputs.to_dict()]
    assert "dose" in inputs
    model = mlflow.pyfunc.load_model(info.model_uri)
    queries = query_maker(frame)
    out = model.predict(make_payload(frame, queries), params={"quantiles": []})
    expected = est.predict(frame, at=queries)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), expected.reset_index(drop=True))
    assert "dose" not in out.columns
    shifted = model.predict(
        make_payload(frame.assign(dose=frame["dose"] + 3.0), queries), params={"quantiles": []}
    )
    assert not np.allclose(shifted["y"].to_numpy(), out["y"].to_numpy())


def test_the_logged_model_is_code_not_a_pickle_and_its_files_are_digested(
    registered: dict, tmp_path: Path
) -> None:
    import mlflow
    import yaml

    from latentode.exceptions import ModelFileError

    local = Path(
        mlflow.artifacts.download_artifacts(
            model_uri(registered["name"], "champion"), dst_path=str(tmp_path)
        )
    )
    assert not list(local.rglob("python_model.pkl"))  # nothing is unpickled on load
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
    assert flavor["model_code_path"].endswith("_model_code.py")
    mlflow.pyfunc.load_model(str(local))  # untouched: loads
    weights = next(local.rglob("weights.pt"))
    state = torch.load(weights, weights_only=True)
    key = next(iter(state))
    state[key] = state[key] + 1.0  # a finite, well-shaped but modified weight
    torch.save(state, weights)
    with pytest.raises(ModelFileError, match="modified after logging"):
        mlflow.pyfunc.load_model(str(local))


@pytest.mark.parametrize("kind", ["numeric", "datetime", "static"])
def test_without_an_input_example_a_made_up_one_in_the_model_format_is_logged(
    experiment: str, forecaster: Any, series: pd.DataFrame, kind: str
) -> None:
    import mlflow

    frame, extra = series.copy(), {}
    if kind == "datetime":
        frame["ds"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame["ds"], unit="D")
        extra = {"time_unit": "D"}
    if kind == "static":
        frame["level"] = (pd.factorize(frame["unique_id"])[0] % 3).astype(float)
        extra = {"static_cols": ["level"]}
    est = forecaster(**extra).fit(frame)
    with mlflow.start_run():
        info = log_model(est, name="model")
    model = mlflow.models.Model.load(info.model_uri)
    example = model.load_input_example(mlflow.artifacts.download_artifacts(info.model_uri))
    assert example is not None
    assert set(example["unique_id"]) == {"example-a", "example-b"}  # nothing of the data
    assert not set(example["unique_id"]) & set(frame["unique_id"])
    assert set(example["role"]) == {"history", "query"}
    history = example[example["role"] == "history"]
    assert history["y"].mean() == pytest.approx(frame["y"].mean())
    assert frame["ds"].min() <= history["ds"].min() and history["ds"].max() <= frame["ds"].max()
    if kind == "static":
        assert history["level"].iloc[0] == pytest.approx(
            frame.groupby("unique_id")["level"].first().mean()
        )
    out = mlflow.pyfunc.load_model(info.model_uri).predict(example, params={"quantiles": []})
    assert len(out) == 2 and np.isfinite(out["y"]).all()


def test_request_deadline_comes_from_model_config_or_the_server_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from latentode.exceptions import ParameterError
    from latentode.tracking._pyfunc import SERVER_TIMEOUT_ENV, request_deadline

    monkeypatch.delenv(SERVER_TIMEOUT_ENV, raising=False)
    assert request_deadline(None) is None  # in-process and batch scoring: no limit
    assert request_deadline({"request_timeout_s": 2.5}) == 2.5
    monkeypatch.setenv(SERVER_TIMEOUT_ENV, "60")
    assert request_deadline({}) == 54.0  # stop before the server's own 504
    monkeypatch.setenv(SERVER_TIMEOUT_ENV, "4")
    assert request_deadline(None) == 3.0
    assert request_deadline({"request_timeout_s": 0}) is None
    assert request_deadline({"request_timeout_s": None, "device": None}) == 3.0
    for bad in (-1, "10", float("nan"), True):
        with pytest.raises(ParameterError, match="request_timeout_s"):
            request_deadline({"request_timeout_s": bad})


def test_a_request_past_its_deadline_is_stopped_with_a_504(
    registered: dict, series: pd.DataFrame
) -> None:
    import time

    import mlflow
    from mlflow.exceptions import MlflowException

    uri = model_uri(registered["name"], "champion")
    history = series[series["unique_id"].isin(series["unique_id"].unique()[:10])]
    limited = mlflow.pyfunc.load_model(uri, model_config={"request_timeout_s": 0.5})
    # over a minute of solver work (10 series x 1000 samples, 800 time units of rk4 steps)
    heavy = {"horizon": 800.0, "n_points": 20, "num_samples": 1000, "quantiles": []}
    start = time.perf_counter()
    with pytest.raises(MlflowException, match=r"Request stopped.*time limit of 0\.5 s") as info:
        limited.predict(history, params=heavy)
    assert time.perf_counter() - start < 5.0  # stopped, not run to the end
    assert info.value.get_http_status_code() == 504
    # a request that fits in its time is answered as without a limit
    small = {"horizon": 1.0, "n_points": 2, "quantiles": []}
    unlimited = mlflow.pyfunc.load_model(uri)
    pd.testing.assert_frame_equal(
        limited.predict(history, params=small), unlimited.predict(history, params=small)
    )


def test_the_request_timeout_can_be_set_for_a_server_through_the_environment(
    registered: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_PYFUNC_INFERENCE_CONFIG", '{"request_timeout_s": 7}')
    model = mlflow.pyfunc.load_model(model_uri(registered["name"], "champion"))
    assert model.unwrap_python_model()._deadline_s == 7.0
