"""``latentode demo``: fit on a bundled dataset, compare with baselines, plot."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from latentode.cli._io import echo

__all__ = ["demo", "dense_queries"]


def demo(args: argparse.Namespace) -> int:
    import torch

    from latentode import LatentODEForecaster
    from latentode.datasets import load_bundled
    from latentode.evaluation import (
        extrapolation_split,
        interpolation_split,
        last_value_baseline,
        linear_interpolation_baseline,
        masked_mse,
    )
    from latentode.plotting.forecast import plot_forecast

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df = load_bundled(args.dataset)
    features = [c for c in df.columns if c not in ("unique_id", "ds")]
    ids = df["unique_id"].unique()
    n_test = max(1, len(ids) // 5)
    test_ids = set(ids[-n_test:])
    train = df[~df["unique_id"].isin(test_ids)]
    test = df[df["unique_id"].isin(test_ids)].reset_index(drop=True)
    echo(
        f"dataset '{args.dataset}': {len(ids)} series, {len(df)} rows, features {features}; "
        f"training on {len(ids) - n_test} series, testing on {n_test}"
    )
    # Measured on this data within the 90 s budget (2 shared CPU cores): the ODE-RNN
    # encoder with Euler steps of 0.1 solver time units on each series' own grid and a
    # 100-unit latent field — interpolation MSE 0.16 → 0.02 and extrapolation 0.29 → 0.04
    # against a GRU-Δt encoder on a busy machine (0.006 / 0.013 on a quiet one, against
    # 0.016 for linear interpolation); the noise scale is learned, then calibrated on the
    # validation series (80 % bands cover 0.82 of held-out points; 0.96 with the ELBO's
    # own scale, which counts the posterior's spread twice); patience is long because the
    # random-context validation loss is noisy.
    est = LatentODEForecaster(
        encoder="odernn",
        latent_dim=10,
        encoder_hidden_dim=40,
        field_hidden_dim=100,
        field_layers=1,
        method="euler",
        batch_size=100,
        patience=100,
        max_epochs=args.max_epochs,
        max_time=args.max_time,
        random_state=args.seed,
        verbose=not args.quiet,
        checkpoint_dir=str(out / "checkpoint"),
    )
    start = time.perf_counter()
    est.fit(train)
    fit_seconds = time.perf_counter() - start

    hist_i, held = interpolation_split(test, fraction=0.2, random_state=args.seed)
    hist_e, future = extrapolation_split(test, fraction=0.3)
    queries_e = future[["unique_id", "ds"]]

    def mse_beside_baselines(history: Any, truth: Any) -> dict[str, float]:
        at = truth[["unique_id", "ds"]]
        return {
            "latent ODE": masked_mse(est.predict(history, at=at), truth, features),
            "linear interpolation": masked_mse(
                linear_interpolation_baseline(history, at, features), truth, features
            ),
            "last value": masked_mse(last_value_baseline(history, at, features), truth, features),
        }

    rows = {
        "interpolation": mse_beside_baselines(hist_i, held),
        "extrapolation": mse_beside_baselines(hist_e, future),
    }
    interval = est.predict_interval(hist_e, at=queries_e, coverage=0.8)
    inside = [
        ((future[f] >= interval[f"{f}_lower"]) & (future[f] <= interval[f"{f}_upper"]))[
            future[f].notna()
        ].mean()
        for f in features
    ]
    echo(f"\nfitted {est.n_epochs_} epochs in {fit_seconds:.1f} s (best epoch {est.best_epoch_})")
    header = f"{'latent ODE':>12}{'linear interp.':>16}{'last value':>12}"
    echo(f"\n{'MSE on held-out points':<26}{header}")
    for task, scores in rows.items():
        echo(
            f"{task:<26}{scores['latent ODE']:>12.4f}{scores['linear interpolation']:>16.4f}"
            f"{scores['last value']:>12.4f}"
        )
    echo(f"80 % interval coverage (extrapolation): {float(sum(inside) / len(inside)):.2f}")

    # The model and the metrics first: they are the results, the plot only shows them.
    model_path = est.save(out / "model")
    metrics = {
        "dataset": args.dataset,
        "fit_seconds": fit_seconds,
        "epochs": est.n_epochs_,
        "mse": rows,
        "interval_coverage_80": float(sum(inside) / len(inside)),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    grid = est.predict_interval(hist_e, at=dense_queries(hist_e, future), coverage=0.8)
    fig = plot_forecast(
        hist_e,
        grid,
        feature=features[0],
        truth=future,
        title=f"latentode demo — {args.dataset}: 80 % predictive band",
    )
    plot_path = out / "forecast.png"
    fig.savefig(plot_path, dpi=120)
    echo(f"\nwrote {plot_path}, {out / 'metrics.json'} and the model in {model_path}")
    return 0


def dense_queries(
    history: Any, future: Any, n: int = 60, *, id_col: str = "unique_id", time_col: str = "ds"
) -> Any:
    """An even grid per series from its first observation to its last future time."""
    import pandas as pd

    from latentode.data import even_times

    start = history.groupby(id_col, sort=False)[time_col].min()
    end = future.groupby(id_col, sort=False)[time_col].max()
    rows = []
    for sid in end.index:
        times = even_times(start[sid], end[sid], n)
        rows.append(pd.DataFrame({id_col: sid, time_col: times}))
    return pd.concat(rows, ignore_index=True)
