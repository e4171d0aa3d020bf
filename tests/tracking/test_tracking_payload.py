"""The request frame of logged forecasting models (pure pandas, no MLflow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentode.exceptions import LongFrameError, ParameterError, QueryError
from latentode.tracking import ForecastParams, make_payload
from latentode.tracking._payload import (
    LIMITS,
    check_request,
    check_request_size,
    quantile_columns,
    split_payload,
)


@pytest.fixture
def history() -> pd.DataFrame:
    return pd.DataFrame({"unique_id": ["a", "a", "b"], "ds": [0.0, 1.0, 0.5], "y": [1, 2, 3.0]})


def test_make_payload_marks_roles_and_blanks_query_features(history: pd.DataFrame) -> None:
    queries = pd.DataFrame({"unique_id": ["b", "a"], "ds": [2.0, 3.0]})
    payload = make_payload(history, queries)
    assert list(payload.columns) == ["unique_id", "ds", "y", "role"]
    assert payload["role"].tolist() == ["history"] * 3 + ["query"] * 2
    assert payload["y"].iloc[3:].isna().all()
    hist, q = split_payload(payload, id_col="unique_id", time_col="ds")
    pd.testing.assert_frame_equal(hist.reset_index(drop=True), history)
    pd.testing.assert_frame_equal(q, queries)


def test_make_payload_accepts_polars(history: pd.DataFrame) -> None:
    pl = pytest.importorskip("polars")
    payload = make_payload(pl.from_pandas(history), pl.DataFrame({"unique_id": ["a"], "ds": [4.0]}))
    assert isinstance(payload, pd.DataFrame)
    assert payload["role"].tolist() == ["history"] * 3 + ["query"]


def test_make_payload_does_not_mutate(history: pd.DataFrame) -> None:
    before = history.copy()
    make_payload(history, pd.DataFrame({"unique_id": ["a"], "ds": [4.0]}))
    pd.testing.assert_frame_equal(history, before)


def test_without_role_column_everything_is_history(history: pd.DataFrame) -> None:
    hist, q = split_payload(history, id_col="unique_id", time_col="ds")
    assert q is None
    assert hist is history


def test_unknown_role_is_named(history: pd.DataFrame) -> None:
    bad = history.assign(role=["history", "future", "query"])
    with pytest.raises(
        LongFrameError,
        match=r"'role' column must hold 'history' or 'query'; "
        r"got \['future'\] in 1 row\(s\)",
    ):
        split_payload(bad, id_col="unique_id", time_col="ds")


def test_query_only_request_is_rejected(history: pd.DataFrame) -> None:
    with pytest.raises(LongFrameError, match="no 'history' row"):
        split_payload(history.assign(role="query"), id_col="unique_id", time_col="ds")


def test_exactly_one_way_to_say_where() -> None:
    q = pd.DataFrame({"unique_id": ["a"], "ds": [3.0]})
    with pytest.raises(QueryError, match="expected one of the two"):
        check_request(ForecastParams(num_samples=4, horizon=1.0), q)
    with pytest.raises(QueryError, match="says nowhere to predict"):
        check_request(ForecastParams(num_samples=4), None)
    check_request(ForecastParams(num_samples=4, horizon=1.0), None)
    check_request(ForecastParams(num_samples=4), q)


def test_params_defaults_and_conversion() -> None:
    p = ForecastParams.from_request(
        {"quantiles": np.array([0.05, 0.95]), "n_points": 3.0, "coverage": None},
        num_samples=16,
    )
    assert p == ForecastParams(num_samples=16, quantiles=(0.05, 0.95), n_points=3)
    assert ForecastParams.from_request(None, num_samples=2).quantiles == (0.1, 0.5, 0.9)
    assert ForecastParams.from_request({"quantiles": []}, num_samples=2).quantiles == ()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"num_samples": 0}, r"'num_samples' parameter must be an int in the range \[1, 1000\]"),
        ({"num_samples": 10**7}, r"'num_samples' .* \[1, 1000\] \(the serving limit\)"),
        ({"n_points": 10**6}, r"'n_points' .* \[1, 1000\]"),
        ({"quantiles": [0.5] * 100}, r"100 levels; a request may ask for at most 99"),
        ({"num_samples": 2.5}, r"'num_samples' parameter must be an int\. Got 2\.5"),
        ({"quantiles": [0.5, 1.0]}, r"'quantiles' parameter must hold numbers in the range"),
        ({"coverage": 1.0}, r"'coverage' parameter must be a float in the range \[0, 1\)"),
        ({"horizon": -1.0}, r"'horizon' parameter must be a finite float >= 0"),
        ({"n_points": True}, r"'n_points' parameter must be an int"),
        ({"alpha": 0.1}, r"Unknown inference parameter\(s\) \['alpha'\]"),
        ({"coverage": 0.8, "coverages": [0.9]}, r"both 'coverage' and 'coverages'"),
        ({"coverages": [0.8, 0.8]}, r"'coverages' parameter must hold distinct numbers"),
        ({"coverages": [0.8, 1.0]}, r"'coverages' parameter must hold distinct numbers"),
        ({"coverages": [0.5] * 100}, r"100 levels; a request may ask for at most 99"),
    ],
)
def test_invalid_params_say_what_is_expected(params: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        ForecastParams.from_request(params, num_samples=8)


def test_several_interval_levels_are_named_like_the_estimator_names_them() -> None:
    from latentode.tracking._adapters import output_columns

    p = ForecastParams.from_request({"coverages": [0.8, 0.95]}, num_samples=8)
    assert p.interval_argument == [0.8, 0.95]
    assert ForecastParams.from_request({"coverage": 0.8}, num_samples=8).interval_argument == 0.8
    assert ForecastParams.from_request({}, num_samples=8).interval_argument is None
    meta = {"task": "forecast", "feature_cols": ["y"], "id_col": "unique_id", "time_col": "ds"}
    names = [n for n, _ in output_columns(meta, {"quantiles": [], "coverages": [0.8, 0.95]})]
    assert names == ["unique_id", "ds", "y", "y_lower_80", "y_upper_80", "y_lower_95", "y_upper_95"]


def test_quantile_column_names_match_the_estimator() -> None:
    assert quantile_columns(["y", "z"], [0.1, 0.5]) == ["y_q0.1", "y_q0.5", "z_q0.1", "z_q0.5"]


def test_request_size_limits_name_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LIMITS, "rows", 5)
    monkeypatch.setitem(LIMITS, "series", 2)
    monkeypatch.setitem(LIMITS, "draws", 100)
    small = pd.DataFrame({"unique_id": ["a", "a", "b"], "ds": [0.0, 1.0, 0.0], "y": 1.0})
    check_request_size(small, "unique_id", ForecastParams(num_samples=10, n_points=5))
    with pytest.raises(ParameterError, match="has 6 rows; a request may have at most 5"):
        check_request_size(pd.concat([small, small]), "unique_id", ForecastParams(num_samples=1))
    three = small.assign(unique_id=["a", "b", "c"])
    with pytest.raises(ParameterError, match="has 3 series"):
        check_request_size(three, "unique_id", ForecastParams(num_samples=1))
    with pytest.raises(ParameterError, match=r"10 query times x 11 samples = 110 draws"):
        check_request_size(small, "unique_id", ForecastParams(num_samples=11, n_points=5))
    queries = small.assign(role=["history", "query", "query"])
    with pytest.raises(ParameterError, match=r"2 query times x 51 samples"):
        check_request_size(queries, "unique_id", ForecastParams(num_samples=51))
