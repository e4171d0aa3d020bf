"""Adaptive solving with a step size per series against torchdiffeq's one per batch.

Two variants, each in its own process (one thread): ``per_series`` (shipped:
``latentode.nn._adaptive``) and ``shared`` (torchdiffeq's dopri5 on the shared
pseudo-time, restored with ``latentode.nn.solve.PER_SERIES_ADAPTIVE = False``).

* ``solver``: a random MLP field (8 states, 64×2, weights ×3 so it is not trivially
  smooth), 200 series × 50 query times each over spans of 0.5–5; one solve with
  back-propagation: seconds (median of 3) and evaluations; and the largest change of a
  series' trajectory between solving it alone and in the batch.
* ``forecaster``: ``LatentODEForecaster(method="dopri5")``, other defaults but
  ``max_epochs``, fitted on the periodic protocol (500 series × 50 points): seconds per
  epoch; a forecast of 1,000 series (32 samples, 20 query times): seconds; and the
  largest change of the forecast mean of three series between forecasting each alone
  and among the 1,000.

Run: ``python benchmarks/adaptive.py`` (about 4 minutes on 2 cores; writes
``benchmarks/results/adaptive.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _solver(repeats: int = 3) -> dict:
    import torch

    from latentode.nn.solve import NFECounter, SolverConfig, solve_on_grids
    from latentode.nn.vector_field import MLPVectorField

    torch.manual_seed(0)
    field = MLPVectorField(8, 64, 2)
    with torch.no_grad():
        for p in field.parameters():
            p.mul_(3.0)
    g = torch.Generator().manual_seed(1)
    n, q = 200, 50
    z0 = torch.randn(n, 8, generator=g)
    t0 = torch.zeros(n, dtype=torch.float64)
    span = torch.linspace(0.5, 5.0, n, dtype=torch.float64).unsqueeze(1)
    times = torch.sort(torch.rand(n, q, generator=g, dtype=torch.float64), 1).values * span
    config = SolverConfig(method="dopri5")
    seconds, counter = [], NFECounter()
    for _ in range(repeats):
        counter.reset()
        z = z0.clone().requires_grad_()
        start = time.perf_counter()
        out = solve_on_grids(field, z, t0, times, config, counter)
        out.pow(2).mean().backward()
        seconds.append(time.perf_counter() - start)
    with torch.no_grad():
        together = solve_on_grids(field, z0, t0, times, config)
        gap = max(
            float(
                (
                    solve_on_grids(field, z0[i : i + 1], t0[i : i + 1], times[i : i + 1], config)
                    - together[i : i + 1]
                )
                .abs()
                .max()
            )
            for i in (0, 100, 199)
        )
    return {
        "seconds": sorted(seconds)[len(seconds) // 2],
        "nfe": counter.calls,
        "alone_vs_batch": gap,
    }


def _forecaster(epochs: int) -> dict:
    import numpy as np

    from latentode import LatentODEForecaster
    from latentode.datasets import make_periodic

    df = make_periodic(n_series=500, n_points=50, observed_fraction=0.7, random_state=0)
    future = make_periodic(n_series=1000, n_points=50, observed_fraction=0.7, random_state=1)
    est = LatentODEForecaster(
        method="dopri5", max_epochs=epochs, early_stopping=False, random_state=0
    )
    start = time.perf_counter()
    est.fit(df)
    epoch_s = (time.perf_counter() - start) / epochs
    start = time.perf_counter()
    together = est.predict(future, horizon=1.0, n_points=20, n_samples=32)
    predict_s = time.perf_counter() - start
    gaps = []
    for sid in future["unique_id"].unique()[[0, 500, 999]]:
        alone = est.predict(
            future[future["unique_id"] == sid], horizon=1.0, n_points=20, n_samples=32
        )
        mine = together[together["unique_id"] == sid]
        gaps.append(float(np.abs(mine["y"].to_numpy() - alone["y"].to_numpy()).max()))
    return {"epoch_s": epoch_s, "predict_1000_s": predict_s, "alone_vs_batch": max(gaps)}


def run_variant(variant: str, epochs: int) -> dict:
    import torch

    torch.set_num_threads(1)
    from latentode.nn import solve

    solve.PER_SERIES_ADAPTIVE = variant == "per_series"
    return {"solver": _solver(), "forecaster": _forecaster(epochs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "adaptive.json")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.epochs)))
        return
    out: dict = {"machine": platform.platform(), "epochs": args.epochs, "variants": {}}
    for variant in ("per_series", "shared"):
        proc = subprocess.run(
            [sys.executable, __file__, "--variant", variant, "--epochs", str(args.epochs)],
            capture_output=True,
            text=True,
            check=True,
        )
        out["variants"][variant] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(variant, out["variants"][variant], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
