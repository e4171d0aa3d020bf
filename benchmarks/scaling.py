"""Per-series time grids: does cost grow with the union of a batch's timestamps?

For batch sizes 16, 64 and 256, fit ``LatentODEForecaster`` for a few epochs on
512 series of 20 points that either all share one time grid or each have their own random
grid (so a batch's union of timestamps is up to ``20 × batch`` times). Reports the median
seconds per epoch and the decoder's function evaluations per batch (forward, and backward
for the adjoint), and the ratio different/shared — the reference implementation's union grid
makes that ratio grow with the batch size; here it should stay near 1.

Two decoder solvers: ``dopri5`` (adaptive, shared pseudo-time; direct back-propagation and
the adjoint) and ``euler`` with ``step_size`` 0.1 (each series on its own fixed-step grid,
direct back-propagation).

Run: ``python benchmarks/scaling.py`` (writes ``benchmarks/results/scaling.json``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from latentode import LatentODEForecaster

RESULTS = Path(__file__).resolve().parent / "results"


def make_frame(n_series: int, n_points: int, shared: bool, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    grid = np.sort(rng.uniform(0, 5, n_points))
    rows = []
    for i in range(n_series):
        t = grid if shared else np.sort(rng.uniform(0, 5, n_points))
        f, phase = rng.uniform(0.4, 0.8), rng.uniform(0, 2 * np.pi)
        y = np.sin(2 * np.pi * f * t + phase) + 0.01 * rng.normal(size=n_points)
        rows.append(pd.DataFrame({"unique_id": f"s{i:04d}", "ds": t, "y": y}))
    return pd.concat(rows, ignore_index=True)


def run(df: pd.DataFrame, batch_size: int, adjoint: bool, epochs: int, method: str) -> dict:
    est = LatentODEForecaster(
        observation="gaussian",  # the model its committed figures were measured with
        value_dropout=0.0,
        latent_dim=6,
        encoder="gru",
        encoder_hidden_dim=16,
        field_hidden_dim=32,
        batch_size=batch_size,
        adjoint=adjoint,
        method=method,
        max_epochs=epochs,
        early_stopping=False,
        extrap_prob=0.0,
        context_dropout=0.0,
        random_state=0,
    ).fit(df)
    hist = est.history_[1:]  # the first epoch includes warm-up
    return {
        "seconds_per_epoch": statistics.median(h["seconds"] for h in hist),
        "nfe_forward_per_batch": statistics.median(h["nfe_forward"] for h in hist),
        "nfe_backward_per_batch": statistics.median(h["nfe_backward"] for h in hist),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help=">= 2 (the first is warm-up)")
    parser.add_argument("--n-series", type=int, default=512)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--adjoint", choices=["both", "off", "on"], default="both")
    parser.add_argument(
        "--methods", nargs="+", choices=["dopri5", "euler"], default=["dopri5", "euler"]
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "scaling.json")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2: the first epoch is warm-up and not timed")
    torch.set_num_threads(1)
    frames = {
        "shared": make_frame(args.n_series, 20, True, 0),
        "different": make_frame(args.n_series, 20, False, 0),
    }
    adjoints = {"both": [False, True], "off": [False], "on": [True]}[args.adjoint]
    # The fixed-step grid path is for direct back-propagation; the adjoint uses pseudo-time.
    settings = [(m, a) for m in args.methods for a in adjoints if m == "dopri5" or not a]
    rows = []
    for method, adjoint in settings:
        for batch_size in args.batch_sizes:
            res = {
                name: run(df, batch_size, adjoint, args.epochs, method)
                for name, df in frames.items()
            }
            row = {
                "method": method,
                "adjoint": adjoint,
                "batch_size": batch_size,
                "union_size_different": min(20 * batch_size, 20 * args.n_series),
                **{f"{k}_{name}": v for name, r in res.items() for k, v in r.items()},
                "time_ratio_different_over_shared": res["different"]["seconds_per_epoch"]
                / res["shared"]["seconds_per_epoch"],
            }
            rows.append(row)
            print(json.dumps(row))
    result = {
        "benchmark": "scaling",
        "protocol": f"{args.n_series} series x 20 points, latent_dim 6, dopri5 rtol 1e-3 or "
        f"euler step 0.1, {args.epochs} epochs (median of epochs 2..)",
        "target": "time_ratio_different_over_shared <= 1.5 at every batch size",
        "rows": rows,
        "max_ratio": max(r["time_ratio_different_over_shared"] for r in rows),
        "torch": torch.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
