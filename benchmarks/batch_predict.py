"""Batch scoring at scale: peak memory and time of :func:`latentode.tracking.batch_predict`.

Writes a long-format parquet data set of ``--series`` irregular series (``--points`` each; two
features, the second 30 % missing) as ``--files`` files, fits a small forecaster on 200 of
the series, then scores every series in a **child process** per setting and reads that
child's peak resident memory (``ru_maxrss``) — the figure a batch machine must provision.

Settings: the full data set at two batch sizes, and half the data set at the larger batch
size: peak memory should follow the batch size, not the size of the input. Target: peak RSS
≤ 2 GiB on the full set (5 M rows by default).

Run: ``python benchmarks/batch_predict.py`` (writes ``benchmarks/results/batch_predict.json``;
``--series 2000`` for a quick look).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_GIB = 2.0


def write_data(root: Path, n_series: int, n_points: int, n_files: int, seed: int) -> int:
    """``n_files`` parquet files of whole series; returns the number of rows written."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    per_file = -(-n_series // n_files)
    rows = 0
    for k, start in enumerate(range(0, n_series, per_file)):
        n = min(per_file, n_series - start)
        gaps = rng.exponential(0.05, size=(n, n_points))
        t = np.cumsum(gaps, axis=1)
        freq = rng.uniform(0.4, 0.8, size=(n, 1))
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
        y = np.sin(2 * np.pi * freq * t + phase) + 0.05 * rng.normal(size=t.shape)
        x = np.cos(2 * np.pi * freq * t + phase) + 0.05 * rng.normal(size=t.shape)
        x[rng.random(x.shape) < 0.3] = np.nan
        ids = np.repeat(np.arange(start, start + n), n_points)
        frame = pl.DataFrame(
            {
                "unique_id": pl.Series(ids).cast(pl.String).str.zfill(7),
                "ds": t.ravel(),
                "y": y.ravel(),
                "x": x.ravel(),
            }
        ).with_columns(pl.col("x").fill_nan(None))
        frame.write_parquet(root / f"history-{k:03d}.parquet")
        rows += frame.height
    return rows


def fit_model(data: Path, model_dir: Path, seed: int) -> None:
    import torch

    from latentode import LatentODEForecaster

    torch.set_num_threads(1)
    files = sorted(data.glob("*.parquet"))
    train = pl.read_parquet(files[0])
    keep = train["unique_id"].unique().sort().head(200)
    train = train.filter(pl.col("unique_id").is_in(keep.implode()))
    est = LatentODEForecaster(
        latent_dim=6, max_epochs=3, early_stopping=False, random_state=seed, verbose=False
    )
    est.fit(train)
    est.save(model_dir)


def child(args: argparse.Namespace) -> None:
    import torch

    from latentode.tracking import batch_predict

    torch.set_num_threads(1)
    report = batch_predict(
        args.model,
        args.data,
        args.out,
        horizon=1.0,
        n_points=10,
        coverage=0.8,
        n_samples=args.n_samples,
        series_per_batch=args.series_per_batch,
        progress=False,
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    json.dump(
        {
            "seconds": report.seconds,
            "peak_rss_kib": peak,
            "n_series": report.n_series,
            "n_partitions": report.n_partitions,
        },
        sys.stdout,
    )


def run_child(model: Path, data: Path, out: Path, series_per_batch: int, n_samples: int) -> dict:
    cmd = [
        sys.executable, __file__, "--child", "--model", str(model), "--data", str(data),
        "--out", str(out), "--series-per-batch", str(series_per_batch),
        "--n-samples", str(n_samples),
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - start
    result["peak_rss_gib"] = result["peak_rss_kib"] / 2**20
    out_rows = pl.scan_parquet(str(out / "*.parquet")).select(pl.len()).collect().item()
    result["output_rows"] = out_rows
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=50_000)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--n-samples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--series-per-batch", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument(
        "--json", type=Path, default=RESULTS / "batch_predict.json", help="where to write results"
    )
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    work = Path(tempfile.mkdtemp(prefix="latentode-batch-bench-"))
    try:
        full, half = work / "full", work / "half"
        rows = write_data(full, args.series, args.points, args.files, args.seed)
        half.mkdir()
        for f in sorted(full.glob("*.parquet"))[: max(1, args.files // 2)]:
            os.link(f, half / f.name)
        half_series = (
            pl.scan_parquet(str(half / "*.parquet"))
            .select(pl.col("unique_id").n_unique())
            .collect()
            .item()
        )
        fit_model(full, work / "model", args.seed)
        settings = [("full", full, 500), ("full", full, 2000), ("half", half, 2000)]
        runs = []
        for name, data, per_batch in settings:
            out = work / f"out-{name}-{per_batch}"
            r = run_child(work / "model", data, out, per_batch, args.n_samples)
            r.update(data=name, series_per_batch=per_batch)
            runs.append(r)
            print(
                f"{name:>4} series_per_batch={per_batch:>5}: {r['seconds']:.0f} s, "
                f"peak RSS {r['peak_rss_gib']:.2f} GiB, {r['output_rows']} forecast rows"
            )
            shutil.rmtree(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    full_peak = max(r["peak_rss_gib"] for r in runs if r["data"] == "full")
    summary = {
        "protocol": (
            f"{args.series} series x {args.points} points ({rows} rows, 2 features, 30 % of "
            f"one missing) in {args.files} parquet files; horizon 10 points, 80 % interval "
            f"from {args.n_samples} samples; half = {half_series} series"
        ),
        "input_rows": rows,
        "peak_rss_gib_full_max": round(full_peak, 3),
        "target": f"peak RSS <= {TARGET_GIB} GiB on the full set",
        "met": full_peak <= TARGET_GIB,
        "runs": [
            f"{r['data']} ({r['n_series']} series), {r['series_per_batch']} series/batch: "
            f"{r['seconds']:.0f} s, {r['n_series'] / r['seconds']:.0f} series/s, "
            f"peak RSS {r['peak_rss_gib']:.2f} GiB"
            for r in runs
        ],
    }
    path = args.json
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
