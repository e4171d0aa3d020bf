"""Periodic toy benchmark (Latent ODE paper): interpolation and extrapolation MSE.

Protocol
--------
``make_periodic(n_series=1000, n_points=100)``: 100 time points shared by all series,
y = sin(2π f t) + c. Every series shows a random half of its points ("observed"); the rest
is hidden. 800 series train the model (``max_time`` seconds of training), 200 held-out
series test it:

* interpolation: history = the observed half; reconstruct every point of the series. This
  is the reference Latent ODE code's protocol (its interpolation MSE is taken over all 100
  points, observed ones included), so the figures compare with the issue's reference
  numbers. The MSE on the hidden half alone — a stricter figure — is reported beside it;
* extrapolation: history = the observed points in the first half of the time range,
  predict every point in the second half.

Baselines: per-series linear interpolation of the observed points (interpolation) and
last observation carried forward (extrapolation). Writes ``benchmarks/results/periodic.json``.

Run: ``python benchmarks/periodic.py`` (``--quick`` for a 30 s smoke run).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from latentode import LatentODEForecaster
from latentode.datasets import make_periodic
from latentode.estimators.forecaster import _build

RESULTS = Path(__file__).resolve().parent / "results"


def split_observed(df: pd.DataFrame, rng: np.random.Generator) -> pd.Series:
    """A boolean mask keeping a random half of each series' rows."""
    keep = np.zeros(len(df), dtype=bool)
    for _, idx in df.groupby("unique_id", sort=False).indices.items():
        chosen = rng.choice(idx, size=len(idx) // 2, replace=False)
        keep[chosen] = True
    return pd.Series(keep, index=df.index)


def linear_interpolation(history: pd.DataFrame, query: pd.DataFrame) -> np.ndarray:
    out = np.empty(len(query))
    groups = history.groupby("unique_id", sort=False)
    for sid, rows in query.groupby("unique_id", sort=False).indices.items():
        h = groups.get_group(sid)
        out[rows] = np.interp(query["ds"].to_numpy()[rows], h["ds"].to_numpy(), h["y"].to_numpy())
    return out


def last_value(history: pd.DataFrame, query: pd.DataFrame) -> np.ndarray:
    last = history.groupby("unique_id", sort=False)["y"].last()
    return query["unique_id"].map(last).to_numpy()


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((np.asarray(a) - np.asarray(b)) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s of training, 300 series")
    parser.add_argument("--max-time", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", default="euler", help="decoder solver")
    parser.add_argument("--encoder", default="odernn")
    parser.add_argument("--obs-std", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS / "periodic.json")
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="LatentODEForecaster() with its defaults (only max_time and random_state set)",
    )
    parser.add_argument(
        "--auto-patience-steps",
        type=int,
        help="measure another patience='auto' rule: wait this many optimiser steps "
        "(latentode.estimators.forecaster._build.AUTO_PATIENCE_STEPS) instead of the default",
    )
    parser.add_argument(
        "--params", type=json.loads, default={}, help="JSON of estimator overrides (tuning)"
    )
    args = parser.parse_args()
    if args.auto_patience_steps is not None:
        _build.AUTO_PATIENCE_STEPS = args.auto_patience_steps
    torch.set_num_threads(1)
    n_series = 300 if args.quick else 1000
    max_time = 30.0 if args.quick else args.max_time

    df = make_periodic(n_series=n_series, n_points=100, random_state=args.seed)
    rng = np.random.default_rng(args.seed)
    observed = split_observed(df, rng)
    ids = df["unique_id"].unique()
    test_ids = set(ids[-(n_series // 5) :])
    is_test = df["unique_id"].isin(test_ids)
    train = df[~is_test & observed]
    test_hist = df[is_test & observed]
    interp_query = df[is_test].reset_index(drop=True)
    hidden = ~observed[is_test].to_numpy()
    mid = df["ds"].max() / 2
    extrap_hist = test_hist[test_hist["ds"] <= mid]
    extrap_query = df[is_test & (df["ds"] > mid)].reset_index(drop=True)

    tuned = LatentODEForecaster(
        observation="gaussian",  # the model its committed figures were measured with
        value_dropout=0.0,
        latent_dim=10,
        encoder=args.encoder,
        encoder_hidden_dim=40,
        field_hidden_dim=100,
        field_layers=1,
        method=args.method,
        obs_std=args.obs_std,
        lr=1e-2,
        lr_decay=0.99,
        batch_size=args.batch_size,
        max_epochs=10_000,
        max_time=max_time,
        patience=10_000,
        random_state=args.seed,
    )
    if args.defaults:
        tuned = LatentODEForecaster(max_time=max_time, random_state=args.seed)
    est = tuned.set_params(**args.params)
    start = time.perf_counter()
    est.fit(train)
    fit_seconds = time.perf_counter() - start

    pred_i = est.predict(test_hist, at=interp_query[["unique_id", "ds"]])
    pred_e = est.predict(extrap_hist, at=extrap_query[["unique_id", "ds"]])
    linear_i = linear_interpolation(test_hist, interp_query)
    result = {
        "benchmark": "periodic",
        "protocol": f"make_periodic(n_series={n_series}, n_points=100), half observed, 80/20",
        "quick": args.quick,
        "defaults": args.defaults,
        "auto_patience_steps": _build.AUTO_PATIENCE_STEPS,
        "max_time_s": max_time,
        "fit_seconds": fit_seconds,
        "epochs": est.n_epochs_,
        "best_epoch": est.best_epoch_,
        "interpolation_mse": mse(pred_i["y"], interp_query["y"]),
        "interpolation_mse_hidden": mse(pred_i["y"][hidden], interp_query["y"][hidden]),
        "extrapolation_mse": mse(pred_e["y"], extrap_query["y"]),
        "baseline_linear_interpolation_mse": mse(linear_i, interp_query["y"]),
        "baseline_linear_interpolation_mse_hidden": mse(
            linear_i[hidden], interp_query["y"][hidden]
        ),
        "baseline_last_value_extrapolation_mse": mse(
            last_value(extrap_hist, extrap_query), extrap_query["y"]
        ),
        "targets": {"interpolation_mse": 0.004, "extrapolation_mse": 0.010, "within_s": 240},
        "params": {k: v for k, v in est.get_params().items() if k != "callbacks"},
        "final_epoch": est.history_[-1],
        "history": [
            {k: h[k] for k in ("epoch", "seconds", "train_mse", "val_mse", "kl") if k in h}
            for h in est.history_
        ],
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float))
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "fit_seconds",
                    "epochs",
                    "best_epoch",
                    "interpolation_mse",
                    "interpolation_mse_hidden",
                    "extrapolation_mse",
                    "baseline_linear_interpolation_mse",
                    "baseline_linear_interpolation_mse_hidden",
                    "baseline_last_value_extrapolation_mse",
                )
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
