"""Batch scoring of many series on a local Spark session with the registered model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from latentode.tracking import make_payload, model_uri, score_spark

pytestmark = pytest.mark.slow

N_SERIES = 240


@pytest.fixture(scope="module")
def many(series_maker: Any, query_maker: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    history = series_maker(N_SERIES, seed=7, prefix="m")
    return history, query_maker(history)


def test_spark_scores_many_series_like_the_estimator(
    spark: Any, registered: dict, many: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    history, queries = many
    sdf = spark.createDataFrame(make_payload(history, queries))
    params = {"quantiles": [0.1, 0.9]}
    scored = score_spark(sdf, model_uri(registered["name"], "champion"), params=params)
    assert scored.columns == ["unique_id", "ds", "y", "y_q0.1", "y_q0.9"]
    got = scored.toPandas()
    assert got["unique_id"].nunique() == N_SERIES
    assert len(got) == len(queries)

    est = registered["estimator"]
    mean = est.predict(history, at=queries)
    qs = est.predict_quantiles(history, at=queries, alpha=[0.1, 0.9])
    expected = pd.concat([mean, qs[["y_q0.1", "y_q0.9"]]], axis=1)
    keys = ["unique_id", "ds"]
    got = got.sort_values(keys).reset_index(drop=True)
    expected = expected.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[keys], expected[keys])
    # Series are scored one group at a time here and in one batch in-process; with a
    # fixed-step solver the only difference is floating-point summation order.
    np.testing.assert_allclose(
        got[["y", "y_q0.1", "y_q0.9"]].to_numpy(),
        expected[["y", "y_q0.1", "y_q0.9"]].to_numpy(),
        rtol=1e-4,
        atol=1e-6,
    )


def test_spark_horizon_scoring(
    spark: Any, registered: dict, many: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    history, _ = many
    subset = history[history["unique_id"].isin(pd.unique(history["unique_id"])[:20])]
    sdf = spark.createDataFrame(subset)
    scored = score_spark(
        sdf,
        model_uri(registered["name"], "champion"),
        params={"horizon": 1.0, "n_points": 2, "quantiles": []},
    ).toPandas()
    expected = registered["estimator"].predict(subset, horizon=1.0, n_points=2)
    keys = ["unique_id", "ds"]
    got = scored.sort_values(keys).reset_index(drop=True)
    expected = expected.sort_values(keys).reset_index(drop=True)
    assert list(got.columns) == ["unique_id", "ds", "y"]
    np.testing.assert_allclose(got["ds"], expected["ds"], rtol=1e-12)
    np.testing.assert_allclose(got["y"], expected["y"], rtol=1e-4, atol=1e-6)


def test_spark_rejects_a_frame_without_the_model_columns(spark: Any, registered: dict) -> None:
    from latentode.exceptions import LongFrameError

    sdf = spark.createDataFrame(pd.DataFrame({"series": ["a"], "t": [0.0], "y": [1.0]}))
    with pytest.raises(LongFrameError, match=r"missing column\(s\) \['unique_id', 'ds'\]"):
        score_spark(sdf, model_uri(registered["name"], "champion"))


def test_spark_scores_series_with_an_anomaly_detector(
    spark: Any, experiment: str, series: pd.DataFrame, forecaster: Any
) -> None:
    from latentode import FFJORDDensity, SeriesAnomalyDetector
    from latentode.tracking import log_model
    from latentode.tracking._adapters import ANOMALY_COLS  # the names: test_tracking_estimators

    density = FFJORDDensity(hidden_dims=(8,), max_epochs=1, random_state=0, device="cpu")
    est = SeriesAnomalyDetector(forecaster(), density, random_state=0).fit(series)
    info = log_model(est, input_example=series)
    scored = score_spark(spark.createDataFrame(series), info.model_uri)
    assert scored.columns == ["unique_id", *ANOMALY_COLS]
    got = scored.toPandas().set_index("unique_id").loc[pd.unique(series["unique_id"])]
    # each series scored alone on its group: as the estimator scores it among the others,
    # to float32 rounding (the batches are padded to other lengths)
    np.testing.assert_allclose(
        got["score"].to_numpy(), est.score_samples(series), rtol=1e-4, atol=1e-5
    )
