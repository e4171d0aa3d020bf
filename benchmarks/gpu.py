"""Training and forecasting throughput on one device: the GPU section of RESULTS.md.

Sections (each writes into the JSON as soon as it is done, so a run cut short keeps
what it measured):

* ``train``: ``LatentODEForecaster`` with its defaults but ``batch_size`` on the periodic
  protocol (``--n-series`` series × 100 points, 70 % observed); seconds per epoch (median
  over epochs after the first, which pays for warm-up), series/s and observations/s.
  Issue 15's target: at batch 1024, an H200 epoch ≥ 20× faster than a 2-core CPU epoch.
* ``predict``: forecasts of 1, 100 and 10,000 series (32 samples, 100 query times) by a
  briefly fitted default model; median seconds over three calls, ms per series.
* ``density`` / ``dynamics``: seconds per epoch of ``FFJORDDensity`` (defaults, 4,000 two
  moons points) and ``NeuralODEDynamics`` (defaults, 16 spirals × 200 points).
* ``memory`` (CUDA only): peak allocated GPU memory of one training epoch on 32 series of
  100, 1,000 and 3,000 points, with and without ``adjoint=True`` (issue 15: flat in length
  is the target; today only the decoder's graph is freed by the adjoint).

Run: ``python benchmarks/gpu.py --device cuda`` (about 4 minutes on an H200) and
``python benchmarks/gpu.py --device cpu --sections train predict density dynamics
--batch-sizes 256 1024 --out benchmarks/results/gpu.json`` for the
CPU side (one thread; about 3 minutes on 2 cores; ``python -m benchmarks gpu`` runs it). Default
output: ``benchmarks/results/gpu_<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("train", "predict", "density", "dynamics", "memory")


def _device_info(device: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "device": device,
        "torch": torch.__version__,
        "machine": platform.platform(),
        "threads": torch.get_num_threads(),
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _epoch_timing(est: Any) -> dict[str, float]:
    """Epochs run, the median epoch after the first (warm-up), and the first."""
    seconds = [float(h["seconds"]) for h in est.history_]
    steady = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
    return {"epochs": len(seconds), "epoch_s": steady, "first_epoch_s": seconds[0]}


def bench_train(device: str, n_series: int, batch_sizes: list[int], epochs: int) -> list[dict]:
    from latentode import LatentODEForecaster
    from latentode.datasets import make_periodic

    df = make_periodic(n_series=n_series, n_points=100, observed_fraction=0.7, random_state=0)
    rows = []
    for batch in batch_sizes:
        est = LatentODEForecaster(
            batch_size=batch,
            max_epochs=epochs,
            early_stopping=False,
            device=device,
            n_threads=1,
            random_state=0,
        )
        start = time.perf_counter()
        est.fit(df)
        total = time.perf_counter() - start
        timing = _epoch_timing(est)
        steady = timing["epoch_s"]
        n_train = round(n_series * (1 - est.validation_fraction))
        rows.append(
            {
                "batch_size": batch,
                **timing,
                "fit_s": total,
                "series_per_s": n_train / steady,
                "obs_per_s": n_train * 70 / steady,
                "final_train_loss": float(est.history_[-1].get("train_loss", float("nan"))),
            }
        )
        print(json.dumps({"train": rows[-1]}), flush=True)
    return rows


def bench_predict(device: str, sizes: list[int]) -> list[dict]:
    from latentode import LatentODEForecaster
    from latentode.datasets import make_periodic

    train = make_periodic(n_series=200, n_points=50, observed_fraction=0.7, random_state=0)
    est = LatentODEForecaster(max_epochs=2, device=device, n_threads=1, random_state=0).fit(train)
    rows = []
    for n in sizes:
        df = make_periodic(n_series=n, n_points=50, observed_fraction=0.7, random_state=1)
        est.predict(df.head(50 * min(n, 4)), horizon=1.0, n_points=100, n_samples=32)  # warm
        times = []
        for _ in range(3):
            _sync(device)
            start = time.perf_counter()
            est.predict(df, horizon=1.0, n_points=100, n_samples=32)
            _sync(device)
            times.append(time.perf_counter() - start)
        s = statistics.median(times)
        rows.append({"n_series": n, "seconds": s, "ms_per_series": 1000 * s / n})
        print(json.dumps({"predict": rows[-1]}), flush=True)
    return rows


def bench_density(device: str, epochs: int) -> dict:
    from sklearn.datasets import make_moons

    from latentode import FFJORDDensity

    x, _ = make_moons(4000, noise=0.05, random_state=0)
    est = FFJORDDensity(
        max_epochs=epochs, early_stopping=False, device=device, n_threads=1, random_state=0
    ).fit(x)
    row = _epoch_timing(est)
    print(json.dumps({"density": row}), flush=True)
    return row


def bench_dynamics(device: str, epochs: int) -> dict:
    from latentode import NeuralODEDynamics
    from latentode.datasets import make_linear_spiral

    df, _ = make_linear_spiral(n_series=16, n_points=600, random_state=0)
    est = NeuralODEDynamics(
        max_epochs=epochs, early_stopping=False, device=device, n_threads=1, random_state=0
    ).fit(df)
    row = {**_epoch_timing(est), "rows": len(df)}
    print(json.dumps({"dynamics": row}), flush=True)
    return row


def bench_memory(device: str, lengths: list[int], deadline: float) -> list[dict]:
    from latentode import LatentODEForecaster
    from latentode.datasets import make_periodic

    rows = []
    # Shortest first, each length with and without the adjoint, so a deadline cuts the
    # longest (the adjoint at 1,000 points takes about a minute on CPU, as on a GPU).
    for length in lengths:
        for adjoint in (False, True):
            if time.perf_counter() > deadline:
                rows.append({"adjoint": adjoint, "n_points": length, "skipped": "deadline"})
                continue
            df = make_periodic(n_series=36, n_points=length, random_state=0)  # 32 train
            est = LatentODEForecaster(
                batch_size=32,
                max_epochs=1,
                early_stopping=False,
                calibrate_noise=False,
                adjoint=adjoint,
                device=device,
                random_state=0,
            )
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            est.fit(df)
            rows.append(
                {
                    "adjoint": adjoint,
                    "n_points": length,
                    "peak_mb": torch.cuda.max_memory_allocated() / 2**20,
                    "epoch_s": est.history_[-1]["seconds"],
                    "fit_s": time.perf_counter() - start,
                }
            )
            print(json.dumps({"memory": rows[-1]}), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--n-series", type=int, default=4096)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1024])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--predict-sizes", type=int, nargs="+", default=[1, 100, 10000])
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 1000, 3000])
    parser.add_argument("--seconds", type=float, default=600.0, help="stop starting sections")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    np.random.seed(0)  # noqa: NPY002 - nothing here uses it; keeps third-party code fixed
    deadline = time.perf_counter() + args.seconds
    out_path = args.out or RESULTS / f"gpu_{args.device}.json"
    out: dict[str, Any] = {**_device_info(args.device), "n_series": args.n_series}

    def save() -> None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(out, indent=2) + "\n")

    jobs = {
        "train": lambda: bench_train(args.device, args.n_series, args.batch_sizes, args.epochs),
        "predict": lambda: bench_predict(args.device, args.predict_sizes),
        "density": lambda: bench_density(args.device, args.epochs),
        "dynamics": lambda: bench_dynamics(args.device, args.epochs),
        "memory": lambda: bench_memory(args.device, args.lengths, deadline),
    }
    for name in args.sections:
        if name == "memory" and args.device != "cuda":
            continue
        if time.perf_counter() > deadline:
            out[name] = {"skipped": "deadline"}
        else:
            try:
                out[name] = jobs[name]()
            except Exception as exc:  # a broken section must not lose the others' figures
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
                print(json.dumps({name: out[name]}), flush=True)
        save()


if __name__ == "__main__":
    main()
