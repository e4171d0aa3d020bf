"""A real ``mlflow models serve`` under concurrent load: latency, errors, shutdown.

Fits a small forecaster, logs it to a SQLite tracking store in a temporary directory and
serves it with ``mlflow models serve --env-manager local``. Then ``--threads`` client threads
send ``--requests`` forecast requests (one series of 40 points, 3 query rows, quantiles),
every fourth malformed (no query rows and no horizon: HTTP 400). Records p50 / p90 / p99
latency of the valid and the invalid requests, throughput, any unexpected status, whether
``/ping`` still answers, and how long the server takes to stop on SIGTERM.

Run: ``python benchmarks/serving.py`` (writes ``benchmarks/results/serving.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def _post(url: str, body: dict) -> tuple[int, float]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return status, time.perf_counter() - start


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ms = np.asarray(values) * 1000.0
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 1) for q in (50, 90, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--out", type=Path, default=RESULTS / "serving.json")
    args = parser.parse_args()

    import mlflow
    import torch

    from latentode import LatentODEForecaster
    from latentode.datasets import make_periodic
    from latentode.tracking import log_model, make_payload

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="latentode-serving-"))
    uri = f"sqlite:///{work / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("serving", artifact_location=(work / "artifacts").as_uri())
    mlflow.set_experiment("serving")
    df = make_periodic(n_series=64, n_points=40, observed_fraction=0.7, random_state=0)
    est = LatentODEForecaster(latent_dim=4, max_epochs=3, random_state=0).fit(df)
    info = log_model(est, input_example=df)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, PATH=bin_dir + os.pathsep + os.environ["PATH"])
    log = open(work / "server.log", "wb")  # open for the server's lifetime
    proc = subprocess.Popen(
        [os.path.join(bin_dir, "mlflow"), "models", "serve", "-m", info.model_uri,
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{(work / 'server.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    startup = time.perf_counter() - start

    ids = sorted(df["unique_id"].unique())
    bodies, valid = [], []
    for k in range(args.requests):
        history = df[df["unique_id"] == ids[k % len(ids)]]
        last = history.groupby("unique_id", as_index=False)["ds"].max()
        queries = last.loc[last.index.repeat(3)].reset_index(drop=True)
        queries["ds"] += [0.2, 0.5, 1.0]
        payload = make_payload(history, queries)
        ok = k % 4 != 3
        frame = payload if ok else payload[payload["role"] == "history"]
        split = json.loads(frame.to_json(orient="split", index=False))
        body = {"dataframe_split": {"columns": split["columns"], "data": split["data"]}}
        if ok:
            body["params"] = {"quantiles": [0.1, 0.9]}
        bodies.append(body)
        valid.append(ok)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        answers = list(pool.map(lambda b: _post(f"{url}/invocations", b), bodies))
    wall = time.perf_counter() - start
    unexpected = sum(
        1 for (status, _), ok in zip(answers, valid, strict=True) if status != (200 if ok else 400)
    )
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=5) as response:
            responsive = response.status == 200
    except OSError:
        responsive = False
    start = time.perf_counter()
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
        stopped = time.perf_counter() - start
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stopped = float("nan")
    # the CLI parent exits at once; the uvicorn child it started stops listening after it
    # has drained its requests: time until the port refuses connections
    closed = float("nan")
    while time.perf_counter() - start < 60:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            closed = time.perf_counter() - start
            break
        time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()

    summary = {
        "protocol": (
            f"{args.requests} requests from {args.threads} threads, every 4th malformed "
            "(HTTP 400 expected); valid: one series of 40 points, 3 query times, quantiles "
            "0.1 / 0.9; latent_dim 4 forecaster; mlflow models serve --env-manager local"
        ),
        "startup_seconds": round(startup, 1),
        "requests_per_second": round(args.requests / wall, 1),
        "valid": _percentiles([t for (_, t), ok in zip(answers, valid, strict=True) if ok]),
        "invalid": _percentiles([t for (_, t), ok in zip(answers, valid, strict=True) if not ok]),
        "unexpected_status": unexpected,
        "responsive_after": responsive,
        "sigterm_to_cli_exit_seconds": round(stopped, 2),
        "sigterm_to_port_closed_seconds": round(closed, 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
