"""How many torch CPU threads should a fit and a forecast use?

Fits ``LatentODEForecaster`` (defaults but ``max_epochs``) on the periodic protocol (500
series × 50 points) and forecasts 2,000 series (32 samples, 20 query times), with
``n_threads`` 1, 2 and every core, each setting in its own process. Twice: on a quiet
machine, and beside a busy process (a second Python process spinning on one core, as a
shared machine or a CI neighbour does). Reports seconds per epoch and per forecast.

Run: ``python benchmarks/threads.py`` (about 4 minutes on 2 cores; writes
``benchmarks/results/threads.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
BUSY = "import time\nend = time.time() + 600\nwhile time.time() < end:\n    pass\n"


def run_setting(n_threads: int, epochs: int) -> dict:
    from latentode import LatentODEForecaster
    from latentode.datasets import make_periodic

    df = make_periodic(n_series=500, n_points=50, observed_fraction=0.7, random_state=0)
    future = make_periodic(n_series=2000, n_points=50, observed_fraction=0.7, random_state=1)
    est = LatentODEForecaster(max_epochs=epochs, n_threads=n_threads, random_state=0)
    start = time.perf_counter()
    est.fit(df)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    est.predict(future, horizon=1.0, n_points=20, n_samples=32)
    predict_s = time.perf_counter() - start
    return {"n_threads": n_threads, "s_per_epoch": fit_s / est.n_epochs_, "predict_s": predict_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "threads.json")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_setting(args.child, args.epochs)))
        return
    cores = os.cpu_count() or 1
    settings = sorted({1, 2, cores})
    out: dict = {"machine": platform.platform(), "cores": cores, "epochs": args.epochs}
    for load in ("quiet", "busy_neighbour"):
        busy = subprocess.Popen([sys.executable, "-c", BUSY]) if load != "quiet" else None
        try:
            rows = []
            for n in settings:
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", str(n), "--epochs", str(args.epochs)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(
                    f"{load:15s} n_threads={n}: {row['s_per_epoch']:.2f} s/epoch, "
                    f"predict {row['predict_s']:.2f} s",
                    flush=True,
                )
            out[load] = rows
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
