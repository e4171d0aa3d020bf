"""NeuralODEDynamics and FFJORDDensity: tracked, logged, loaded, same predictions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from latentode.estimators import FFJORDDensity, NeuralODEDynamics
from latentode.tracking import MLflowCallback, log_model, make_payload


@pytest.fixture(scope="module")
def oscillators() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(10):
        t = np.sort(rng.uniform(0, 6, 14))
        phase = rng.uniform(0, 6)
        rows.append(
            pd.DataFrame(
                {"unique_id": f"o{i}", "ds": t, "x": np.cos(t + phase), "v": -np.sin(t + phase)}
            )
        )
    return pd.concat(rows, ignore_index=True)


def _client_artifacts(run_id: str) -> set[str]:
    import mlflow

    return {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "plots")}


def test_dynamics_tracked_logged_and_served(
    experiment: str, oscillators: pd.DataFrame, query_maker: Any
) -> None:
    import mlflow

    est = NeuralODEDynamics(
        hidden_dim=8,
        max_epochs=2,
        window_size=4,
        state_fit_steps=5,
        method="rk4",
        random_state=0,
        device="cpu",
        callbacks=[MLflowCallback()],
    ).fit(oscillators)
    info = log_model(est, input_example=oscillators)
    run = mlflow.get_run(info.run_id)
    assert run.data.params["estimator_class"] == "NeuralODEDynamics"
    assert {"final_train_loss", "final_val_loss", "nfe_forward_total"} <= set(run.data.metrics)
    assert _client_artifacts(info.run_id) == {"plots/training.png", "plots/phase.png"}

    model = mlflow.pyfunc.load_model(info.model_uri)
    queries = query_maker(oscillators)
    out = model.predict(make_payload(oscillators, queries))
    expected = est.predict(oscillators, at=queries)
    pd.testing.assert_frame_equal(out, expected.reset_index(drop=True))
    ahead = model.predict(oscillators, params={"horizon": 1.0, "n_points": 3})
    pd.testing.assert_frame_equal(
        ahead.reset_index(drop=True),
        est.predict(oscillators, horizon=1.0, n_points=3).reset_index(drop=True),
    )
    params = {p.name for p in model.metadata.signature.params.params}
    assert params == {"horizon", "n_points"}


def test_density_tracked_logged_and_served(experiment: str) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 2)) * [1.0, 0.5], columns=["a", "b"])
    est = FFJORDDensity(
        hidden_dims=(8,), max_epochs=2, random_state=0, device="cpu", callbacks=[MLflowCallback()]
    ).fit(X)
    info = log_model(est, input_example=X)
    run = mlflow.get_run(info.run_id)
    assert run.data.params["data.n_features"] == "2"
    assert _client_artifacts(info.run_id) == {"plots/training.png", "plots/density.png"}

    model = mlflow.pyfunc.load_model(info.model_uri)
    assert [c["name"] for c in model.metadata.signature.inputs.to_dict()] == ["a", "b"]
    out = model.predict(X.head(20))
    assert list(out.columns) == ["log_density"]
    np.testing.assert_array_equal(out["log_density"].to_numpy(), est.score_samples(X.head(20)))
    with pytest.raises(MlflowException, match="Expected finite feature values") as err:
        model.predict(X.head(3).assign(a=[0.0, np.nan, 1.0]))
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_density_from_an_array(experiment: str) -> None:
    import mlflow

    X = np.random.default_rng(1).normal(size=(150, 2))
    est = FFJORDDensity(hidden_dims=(8,), max_epochs=1, random_state=0, device="cpu")
    est.fit(X)
    info = log_model(est, input_example=X)
    model = mlflow.pyfunc.load_model(info.model_uri)
    frame = pd.DataFrame(X[:5], columns=["x0", "x1"])
    np.testing.assert_array_equal(
        model.predict(frame)["log_density"].to_numpy(), est.score_samples(X[:5])
    )


def test_anomaly_detector_logged_and_served(
    experiment: str, series: pd.DataFrame, forecaster: Any
) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    from latentode import SeriesAnomalyDetector

    model_est = forecaster().fit(series)
    density = FFJORDDensity(hidden_dims=(8,), max_epochs=1, random_state=0, device="cpu")
    est = SeriesAnomalyDetector(model_est, density, prefit=True, random_state=0).fit(series)
    info = log_model(est, input_example=series)
    model = mlflow.pyfunc.load_model(info.model_uri)
    inputs = [c["name"] for c in model.metadata.signature.inputs.to_dict()]
    assert inputs == ["unique_id", "ds", "y"]
    out = model.predict(series)
    assert list(out.columns) == [
        "unique_id",
        "score",
        "decision",
        "is_anomaly",
        "predictive",
        "latent",
    ]
    assert list(out["unique_id"]) == list(pd.unique(series["unique_id"]))
    np.testing.assert_allclose(out["score"].to_numpy(), est.score_samples(series), rtol=1e-6)
    np.testing.assert_allclose(
        out[["predictive", "latent"]].to_numpy(), est.score_components(series), rtol=1e-6
    )
    np.testing.assert_array_equal(out["is_anomaly"].to_numpy() == 1.0, est.predict(series) == -1)
    assert out["is_anomaly"].sum() >= 1  # the threshold calls the top 5 % of training series
    with pytest.raises(MlflowException, match="missing inputs"):
        model.predict(series.drop(columns="ds"))
