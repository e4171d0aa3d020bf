"""Side by side with the reference Latent ODE code on its periodic protocol: epoch ratio.

Issue 15's target: with the defaults, an epoch of the periodic protocol at least 10× faster
than the reference code (Rubanova, Chen & Duvenaud 2019), as a ratio measured in one run.

The reference code is its authors', so it is not shipped: clone
https://github.com/YuliaRubanova/latent_ode and pass its path as ``--reference``. The two
programs start together, one thread each (``OMP_NUM_THREADS=1``), for ``--seconds`` of
wall time each:

* the reference, its README's periodic command: ``run_models.py -n 1000 -s 50 -l 10
  --dataset periodic --latent-ode --noise-weight 0.01`` (1,000 series of 100 points, 50
  sampled per series; batch 50; ``--extrap`` for its extrapolation mode), run from a
  temporary directory (its logs and checkpoints go there) and stopped at the budget;
* ours, ``benchmarks/periodic.py --defaults --max-time SECONDS``: ``LatentODEForecaster``
  with its defaults on 1,000 periodic series of 100 points, half observed.

An epoch is one pass over the training series, with each program's own per-epoch
evaluation (the reference scores its test set after every epoch, ours its validation
series). Reported: epochs, the median wall seconds per epoch (from the reference's
"Epoch" log lines as they arrive and from our ``history_``), their ratio, each process's
CPU seconds, the reference's last test MSE and ours. Writes
``benchmarks/results/reference.json``.

Run: ``python benchmarks/reference.py --reference ../latent_ode`` (about ``--seconds`` plus
a minute).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

#: The reference README's periodic command (its iteration count raised: the budget ends it).
REFERENCE_ARGS = [
    "--niters",
    "100000",
    "-n",
    "1000",
    "-s",
    "50",
    "-l",
    "10",
    "--dataset",
    "periodic",
    "--latent-ode",
    "--noise-weight",
    "0.01",
]

EPOCH = re.compile(r"^Epoch (\d+) ")
TEST_MSE = re.compile(r"^Test MSE: ([0-9.eE+-]+)")


def _one_thread_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _torchvision_stub(env: dict[str, str]) -> dict[str, str]:
    """``env`` whose ``PYTHONPATH`` provides ``torchvision.datasets.utils.download_url``
    when torchvision is not installed: the reference imports it at start-up for its
    PhysioNet and activity downloaders, which the periodic protocol never calls (the stub
    raises if it is called)."""
    if importlib.util.find_spec("torchvision") is not None:
        return env
    root = Path(tempfile.mkdtemp(prefix="torchvision-stub-"))
    pkg = root / "torchvision" / "datasets"
    pkg.mkdir(parents=True)
    (root / "torchvision" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "utils.py").write_text(
        "def download_url(*args, **kwargs):\n"
        "    raise RuntimeError('torchvision stub: downloads are not part of this benchmark')\n"
    )
    paths = [str(root), env.get("PYTHONPATH", "")]
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def _read_reference(stream, start: float, out: dict) -> None:
    """Collect the reference's epoch times and test MSEs from its log stream."""
    for raw in stream:
        line = raw.strip()
        if m := EPOCH.match(line):
            out["epoch_times"].append(time.perf_counter() - start)
            out["epochs"] = int(m.group(1))
        elif m := TEST_MSE.match(line):
            out["test_mse"].append(float(m.group(1)))
        out["tail"] = (out.get("tail", "") + line + "\n")[-2000:]


def _cpu_seconds(usage) -> float:
    return float(usage.ru_utime + usage.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="latent_ode checkout")
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--extrap", action="store_true", help="the reference's --extrap mode")
    parser.add_argument("--seed", type=int, default=0, help="our fit's random_state")
    parser.add_argument("--out", type=Path, default=RESULTS / "reference.json")
    args = parser.parse_args()
    script = args.reference.resolve() / "run_models.py"
    if not script.is_file():
        parser.error(f"no run_models.py in {args.reference}: pass a latent_ode checkout")

    env = _one_thread_env()
    ours_out = Path(tempfile.mkdtemp(prefix="latentode-reference-")) / "periodic.json"
    workdir = tempfile.mkdtemp(prefix="latent-ode-reference-")
    ref_cmd = [sys.executable, str(script), *REFERENCE_ARGS, *(["--extrap"] if args.extrap else [])]
    our_cmd = [
        sys.executable,
        str(HERE / "periodic.py"),
        "--defaults",
        "--max-time",
        str(args.seconds),
        "--seed",
        str(args.seed),
        "--out",
        str(ours_out),
    ]
    start = time.perf_counter()
    ref = subprocess.Popen(
        ref_cmd,
        cwd=workdir,
        env=_torchvision_stub(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ours = subprocess.Popen(our_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log: dict = {"epoch_times": [], "test_mse": [], "epochs": 0}
    reader = threading.Thread(target=_read_reference, args=(ref.stdout, start, log), daemon=True)
    reader.start()
    # Our fit stops itself at its budget (then predicts); the reference is stopped there.
    while time.perf_counter() - start < args.seconds and ref.poll() is None:
        time.sleep(0.5)
    if ref.poll() is None:
        ref.send_signal(signal.SIGTERM)
    _, _ref_status, ref_usage = os.wait4(ref.pid, 0)
    _, our_status, our_usage = os.wait4(ours.pid, 0)
    reader.join(timeout=5)
    our_log = ours.stdout.read().decode(errors="replace") if ours.stdout else ""
    if not ours_out.is_file():
        raise SystemExit(f"our periodic run failed (status {our_status}):\n{our_log[-2000:]}")
    mine = json.loads(ours_out.read_text())

    ref_times = log["epoch_times"]
    ref_per_epoch = (
        statistics.median(b - a for a, b in itertools.pairwise(ref_times))
        if len(ref_times) > 2
        else None
    )
    our_secs = [h["seconds"] for h in mine["history"] if "seconds" in h][1:]  # per epoch
    our_per_epoch = statistics.median(our_secs) if our_secs else None
    result = {
        "benchmark": "reference",
        "protocol": "periodic: reference run_models.py "
        + " ".join(REFERENCE_ARGS)
        + (" --extrap" if args.extrap else "")
        + f" beside benchmarks/periodic.py --defaults (seed {args.seed}); {args.seconds:g} s "
        "of wall time each, started together, one thread each",
        "seconds": args.seconds,
        "reference": {
            "epochs": log["epochs"],
            "median_epoch_s": ref_per_epoch,
            "cpu_s": _cpu_seconds(ref_usage),
            "last_test_mse": log["test_mse"][-1] if log["test_mse"] else None,
            "mode": "extrapolation" if args.extrap else "interpolation",
            "log_tail": log.get("tail", "")[-800:],
        },
        "ours": {
            "epochs": mine["epochs"],
            "median_epoch_s": our_per_epoch,
            "cpu_s": _cpu_seconds(our_usage),
            "interpolation_mse": mine["interpolation_mse"],
            "extrapolation_mse": mine["extrapolation_mse"],
        },
        "epoch_ratio": (ref_per_epoch / our_per_epoch) if ref_per_epoch and our_per_epoch else None,
        "target_ratio": 10.0,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("reference", "ours", "epoch_ratio")}, indent=2))


if __name__ == "__main__":
    main()
