"""One long series among short ones: what does a fixed-step fit cost?

199 series spanning 5 time units (20 points each) and one spanning ``--long-span`` units
(the same density of points), fitted for ``--epochs`` epochs with the fixed-step decoder
(``method="euler"``, ``step_size=0.1``, batch 50). Each variant runs in its own process
(one thread) and reports the median seconds per epoch and the process's peak resident
memory:

* ``shipped``: batches capped at ``batch_size ×`` the 90th percentile of the lengths
  (``PaddedSeries.batches``: the long series gets a batch of its own), and a solver that
  stops evaluating a series once it has taken its own steps (``fixed_trajectory``);
* ``no_cap``: the solver as shipped, batches of 50 whatever their padded size;
* ``neither``: also every row of a batch stepped as often as its longest series — the
  code before issue 13's fix, restored by patching both.

Run: ``python benchmarks/spans.py`` (about 3 minutes; writes ``benchmarks/results/spans.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def frame(long_span: float, seed: int = 0):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(200):
        span = long_span if i == 0 else 5.0
        n = max(20, int(20 * span / 5.0))
        t = np.sort(rng.uniform(0.0, span, n))
        y = np.sin(t * rng.uniform(0.5, 1.5) + rng.uniform(0, 6)) + 0.05 * rng.normal(size=n)
        rows.append(pd.DataFrame({"unique_id": f"s{i:03d}", "ds": t, "y": y}))
    return pd.concat(rows, ignore_index=True)


def run_variant(variant: str, long_span: float, epochs: int) -> dict:
    import time

    import torch

    torch.set_num_threads(1)
    from latentode import LatentODEForecaster
    from latentode.estimators._tensors import PaddedSeries
    from latentode.nn import _fixed_steps

    if variant in ("no_cap", "neither"):

        def no_cap(self, index, size):  # type: ignore[no-untyped-def]
            yield index

        PaddedSeries._under_cap = no_cap  # type: ignore[method-assign]
    if variant == "neither":

        def step_all(field, z0, start, size, method, counter):  # type: ignore[no-untyped-def]
            states = _fixed_steps.fixed_steps(field, z0, start, size, method, counter)
            return torch.stack(states, dim=-2), None

        _fixed_steps.sorted_trajectory = step_all  # type: ignore[assignment]
    df = frame(long_span)
    est = LatentODEForecaster(
        method="euler",
        step_size=0.1,
        encoder="gru",
        batch_size=50,
        max_epochs=epochs,
        random_state=0,
        device="cpu",
    )
    start = time.perf_counter()
    est.fit(df)
    total = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "variant": variant,
        "fit_s": total,
        "s_per_epoch": total / epochs,
        "peak_rss_mb": peak_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-span", type=float, default=500.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "spans.json")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.long_span, args.epochs)))
        return
    out = {
        "long_span": args.long_span,
        "epochs": args.epochs,
        "machine": platform.platform(),
        "variants": {},
    }
    for variant in ("shipped", "no_cap", "neither"):
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--variant",
                variant,
                "--long-span",
                str(args.long_span),
                "--epochs",
                str(args.epochs),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        out["variants"][variant] = result
        print(
            f"{variant:14s} {result['s_per_epoch']:.2f} s/epoch, "
            f"peak {result['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
