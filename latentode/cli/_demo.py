"""``latentode demo``: fit on a bundled or real dataset, score it beside every baseline, plot.

The protocol is ``benchmarks/real.py``'s: series split 70 / 30 at random; on the test
series, **extrapolation** hides each series' last 20 % of timestamps and **interpolation** a
random 30 % of its observed values; every method forecasts them from the rest. Scores are
in units of each feature's training standard deviation, pooled over the hidden values:
MSE, CRPS (100 predictive draws) and the coverage of the central 80 % interval. The four
baselines of :mod:`latentode.baselines` (last value, linear interpolation, a per-series
Gaussian process, global gradient boosting) are fitted on the same training series.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from latentode.cli._io import echo

__all__ = ["demo", "dense_queries"]

_BASELINES = {
    "last value": "LastValueBaseline",
    "linear interp.": "LinearInterpolationBaseline",
    "GP": "GPBaseline",
    "gradient boosting": "GradientBoostingBaseline",
}
_MODEL = "latent ODE"


def demo(args: argparse.Namespace) -> int:
    import torch

    from latentode import LatentODEForecaster
    from latentode import baselines as suite
    from latentode.evaluation import holdout_tasks, score_forecast
    from latentode.plotting.forecast import plot_forecast

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df, scored, known = _load(args.dataset)
    features = [c for c in df.columns if c not in ("unique_id", "ds")]
    scored = scored or features
    train, tasks, scale = holdout_tasks(
        df, target_cols=scored, known_cols=known, random_state=args.seed
    )
    n_series, n_train = df["unique_id"].nunique(), train["unique_id"].nunique()
    echo(
        f"dataset '{args.dataset}': {n_series} series, {len(df)} rows, features {features}; "
        f"training on {n_train} series, testing on {n_series - n_train}"
    )
    # The defaults, as in benchmarks/real.py (ODE-RNN encoder, Euler steps on each series'
    # own grid; the noise scale is learned, then calibrated on the validation series).
    est = LatentODEForecaster(
        max_epochs=args.max_epochs,
        max_time=args.max_time,
        random_state=args.seed,
        verbose=not args.quiet,
        checkpoint_dir=str(out / "checkpoint"),
        covariate_cols=list(known) or None,  # known ahead (remifentanil's infusion rate)
    )
    methods: dict[str, Any] = {_MODEL: est}
    methods.update(
        {name: getattr(suite, cls)(random_state=args.seed) for name, cls in _BASELINES.items()}
    )
    results: dict[str, dict[str, dict[str, float]]] = {task: {} for task in tasks}
    fit_seconds: dict[str, float] = {}
    for name, method in methods.items():
        start = time.perf_counter()
        method.fit(train)
        fit_seconds[name] = time.perf_counter() - start
        for task, (history, target) in tasks.items():
            results[task][name] = score_forecast(
                method, history, target, scale, n_samples=100, coverage=0.8
            )
    echo(
        f"\nfitted {est.n_epochs_} epochs in {fit_seconds[_MODEL]:.1f} s "
        f"(best epoch {est.best_epoch_}); baselines in "
        f"{sum(fit_seconds.values()) - fit_seconds[_MODEL]:.1f} s"
    )
    for task, scores in results.items():
        _print_table(task, scores)

    # The model and the metrics first: they are the results, the plot only shows them.
    model_path = est.save(out / "model")
    metrics = {
        "dataset": args.dataset,
        "scored": scored,
        "fit_seconds": fit_seconds,
        "epochs": est.n_epochs_,
        "tasks": results,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    history, future = tasks["extrapolation"]
    grid = est.predict_interval(history, at=dense_queries(history, future), coverage=0.8)
    fig = plot_forecast(
        history,
        grid,
        feature=scored[0],
        truth=future,
        title=f"latentode demo — {args.dataset}: 80 % predictive band",
    )
    plot_path = out / "forecast.png"
    fig.savefig(plot_path, dpi=120)
    echo(f"\nwrote {plot_path}, {out / 'metrics.json'} and the model in {model_path}")
    return 0


def _load(name: str) -> tuple[Any, list[str] | None, tuple[str, ...]]:
    """The long frame of a bundled or real dataset, the columns to score (None: all) and
    the covariates known ahead."""
    from latentode import datasets
    from latentode.datasets import REAL_SETS
    from latentode.exceptions import ParameterError

    if name in REAL_SETS:
        spec = REAL_SETS[name]
        try:
            return spec.load().frame, spec.targets, spec.known
        except ImportError as exc:  # the optional 'real' extra
            raise ParameterError(
                f"{exc} (or run the bundled toy: latentode demo --dataset periodic_irregular)"
            ) from exc
    if name not in datasets.list_bundled():
        raise ParameterError(
            f"--dataset must be a bundled dataset ({', '.join(datasets.list_bundled())}) or a "
            f"real one ({', '.join(REAL_SETS)}). Got {name!r} instead."
        )
    return datasets.load_bundled(name), None, ()


def _print_table(task: str, scores: dict[str, dict[str, float]]) -> None:
    """One task's scores, a row per method; the best baseline by CRPS is marked."""
    baselines = [m for m in scores if m != _MODEL]
    best = min(baselines, key=lambda m: scores[m]["crps"])
    n = int(scores[_MODEL].get("n", 0))
    echo(f"\n{task} ({n} hidden values)  {'MSE':>8}{'CRPS':>8}{'80 % cov.':>11}")
    for method, s in scores.items():
        label = f"{method}{' (best baseline)' if method == best else ''}"
        echo(f"{label:<34}{s['mse']:>8.4f}{s['crps']:>8.4f}{s['coverage']:>11.2f}")
    ratio = scores[_MODEL]["crps"] / scores[best]["crps"] - 1.0
    echo(f"latent ODE CRPS vs the best baseline: {100 * ratio:+.1f} %")


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
