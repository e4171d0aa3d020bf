"""A real ``mlflow models serve`` process answering forecast requests over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from latentode.tracking import make_payload, model_uri

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT_S = 150.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: Any, content_type: str = "application/json") -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        text = exc.read().decode()
        try:
            return exc.code, json.loads(text)
        except json.JSONDecodeError:
            return exc.code, {"message": text}


@pytest.fixture(scope="module")
def server(registered: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow models serve -m models:/<name>@champion --env-manager local`` on 127.0.0.1."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "server.log"
    bin_dir = str(Path(sys.executable).parent)  # where the mlflow and uvicorn scripts are
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    command = [
        os.path.join(bin_dir, "mlflow"),
        "models",
        "serve",
        "-m",
        model_uri(registered["name"], "champion"),
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited ({proc.returncode}):\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer /ping:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def _split(frame: pd.DataFrame) -> dict:
    records = json.loads(frame.to_json(orient="split", index=False))
    return {"columns": records["columns"], "data": records["data"]}


def test_server_answers_a_forecast_like_the_estimator(
    query_maker: Any, server: str, registered: dict, series: pd.DataFrame
) -> None:
    est = registered["estimator"]
    history = series[series["unique_id"].isin(["s0000", "s0001", "s0002"])]
    queries = query_maker(history)
    body = {
        "dataframe_split": _split(make_payload(history, queries)),
        "params": {"quantiles": [0.1, 0.9]},
    }
    status, answer = _post(f"{server}/invocations", body)
    assert status == 200, answer
    got = pd.DataFrame(answer["predictions"])
    assert list(got.columns) == ["unique_id", "ds", "y", "y_q0.1", "y_q0.9"]
    mean = est.predict(history, at=queries)
    qs = est.predict_quantiles(history, at=queries, alpha=[0.1, 0.9])
    expected = pd.concat([mean, qs[["y_q0.1", "y_q0.9"]]], axis=1)
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), rtol=1e-9)


def test_server_answers_a_horizon_request(server: str, series: pd.DataFrame) -> None:
    history = series[series["unique_id"] == "s0004"]
    body = {"dataframe_split": _split(history), "params": {"horizon": 1.0, "n_points": 3}}
    status, answer = _post(f"{server}/invocations", body)
    assert status == 200, answer
    assert len(answer["predictions"]) == 3


@pytest.mark.parametrize(
    ("make_body", "expected"),
    [
        (
            lambda p: {"dataframe_split": _split(p.assign(role=p["role"].replace("query", "x")))},
            "The 'role' column must hold 'history' or 'query'",
        ),
        (
            lambda p: {"dataframe_split": _split(p[p["role"] == "history"])},
            "The request says nowhere to predict",
        ),
        (
            lambda p: {"dataframe_split": _split(p), "params": {"quantiles": [1.5]}},
            "'quantiles' parameter must hold numbers in the range (0, 1)",
        ),
        (
            lambda p: {"dataframe_split": _split(p.drop(columns="ds"))},
            "missing inputs ['ds']",
        ),
        (lambda p: {"no_such_key": []}, "The input must be a JSON dictionary"),
    ],
)
def test_server_rejects_malformed_requests_with_400(
    query_maker: Any, server: str, series: pd.DataFrame, make_body: Any, expected: str
) -> None:
    history = series[series["unique_id"] == "s0000"]
    payload = make_payload(history, query_maker(history))
    status, answer = _post(f"{server}/invocations", make_body(payload))
    assert status == 400, answer
    assert expected in answer["message"]
    assert "Traceback" not in json.dumps(answer)


def test_server_rejects_invalid_json_with_4xx(server: str) -> None:
    status, answer = _post(f"{server}/invocations", b"{not json")
    assert 400 <= status < 500, answer


def test_two_hundred_concurrent_requests_a_quarter_invalid_are_all_answered(
    query_maker: Any, server: str, series: pd.DataFrame
) -> None:
    """8 threads, 200 requests, every 4th malformed: each gets its own right answer, and
    the server still answers afterwards (figures: ``benchmarks/serving.py``)."""
    from concurrent.futures import ThreadPoolExecutor

    ids = sorted(series["unique_id"].unique())[:8]
    bodies, expected = [], []
    for k in range(200):
        history = series[series["unique_id"] == ids[k % len(ids)]]
        payload = make_payload(history, query_maker(history))
        if k % 4 == 3:
            bodies.append({"dataframe_split": _split(payload[payload["role"] == "history"])})
            expected.append(400)
        else:
            bodies.append({"dataframe_split": _split(payload), "params": {"quantiles": [0.5]}})
            expected.append(200)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda body: _post(f"{server}/invocations", body), bodies))
    statuses = [status for status, _ in answers]
    assert statuses == expected
    for (status, answer), body in zip(answers, bodies, strict=True):
        if status == 200:  # the answer is for the series that was asked about
            asked = {row[0] for row in body["dataframe_split"]["data"]}
            assert {row["unique_id"] for row in answer["predictions"]} == asked
        else:
            assert "The request says nowhere to predict" in answer["message"]
    with urllib.request.urlopen(f"{server}/ping", timeout=5) as response:
        assert response.status == 200
