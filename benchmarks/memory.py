"""Peak memory of a training epoch against series length (issue 15: flat in length).

One ``LatentODEForecaster`` epoch (defaults but ``batch_size=32``; 36 periodic series, 32
trained on in one batch) at each length, each setting in its own child process, whose
peak resident memory (``ru_maxrss``) and seconds are reported, with the growth over the
shortest length. Variants:

* ``default``: what ships (``memory="auto"``) — the encoder's loop kept in checkpointed
  segments above a size (:mod:`latentode.nn._scan`), the reconstruction in checkpointed
  blocks of 4,096 query times, and the anchored head's kernel averages over blocks of
  queries (:func:`latentode.models._anchors.anchor_features`);
* ``low``: ``memory="low"`` — every encoder loop above two segments checkpointed, the
  reconstruction in blocks of 256 query times, smaller kernel blocks;
* ``no_checkpoint``: the same with the encoder's whole graph kept (``SEGMENT`` huge): the
  checkpoint's time cost and what it saves;
* ``adjoint``: ``adjoint=True`` (torchdiffeq's adjoint for the decoder; slow past 1,000
  points, so only where ``--adjoint-max`` allows).

Run: ``python benchmarks/memory.py`` (about 5 minutes on one core; writes
``benchmarks/results/memory.json``); ``--lengths 100 1000`` for a quick look.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

CHILD = """
import json, resource, sys, time
import torch
torch.set_num_threads(1)
from latentode import LatentODEForecaster
from latentode.datasets import make_periodic
import latentode.nn._scan as scan
length, variant = int(sys.argv[1]), sys.argv[2]
if variant == "no_checkpoint":
    scan.SEGMENT = 10**9
df = make_periodic(n_series=36, n_points=length, random_state=0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
est = LatentODEForecaster(batch_size=32, max_epochs=1, early_stopping=False,
                          calibrate_noise=False, adjoint=variant == "adjoint",
                          memory="low" if variant == "low" else "auto",
                          n_threads=1, random_state=0)
start = time.perf_counter()
est.fit(df)
print(json.dumps({"n_points": length, "variant": variant, "rss_before_mb": before,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - start,
                  "train_loss": est.history_[-1]["train_loss"]}))
"""


def _child(length: int, variant: str) -> dict:
    """One setting's epoch in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(length), variant],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"n_points": length, "variant": variant, "error": proc.stderr[-400:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument(
        "--variants", nargs="+", default=["default", "low", "no_checkpoint", "adjoint"]
    )
    parser.add_argument("--adjoint-max", type=int, default=1000)
    parser.add_argument("--no-checkpoint-max", type=int, default=10000)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per setting (medians; RSS varies ±30 MB)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "memory.json")
    args = parser.parse_args()
    limits = {"adjoint": args.adjoint_max, "no_checkpoint": args.no_checkpoint_max}
    rows = []
    for variant in args.variants:
        for length in args.lengths:
            if length > limits.get(variant, length):
                continue
            runs = [_child(length, variant) for _ in range(args.repeats)]
            good = [r for r in runs if "error" not in r]
            if len(good) < len(runs):
                rows.append(next(r for r in runs if "error" in r))
            else:
                row = dict(good[0])
                for key in ("peak_mb", "seconds", "rss_before_mb"):
                    row[key] = statistics.median(r[key] for r in good)
                row["peak_mb_runs"] = [r["peak_mb"] for r in good]
                rows.append(row)
            print(json.dumps(rows[-1]), flush=True)
    for row in rows:
        base = next((r for r in rows if r["variant"] == row["variant"] and "peak_mb" in r), None)
        if base is not None and "peak_mb" in row:
            row["growth_vs_shortest"] = row["peak_mb"] / base["peak_mb"] - 1
        shorter = [
            r
            for r in rows
            if r["variant"] == row["variant"] and "peak_mb" in r and r["n_points"] < row["n_points"]
        ]
        if shorter and "peak_mb" in row:
            previous = max(shorter, key=lambda r: r["n_points"])
            row["growth_vs_previous"] = row["peak_mb"] / previous["peak_mb"] - 1
    out = {
        "machine": platform.platform(),
        "n_series": 32,
        "repeats": args.repeats,
        "command": "python benchmarks/memory.py " + " ".join(sys.argv[1:]),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
