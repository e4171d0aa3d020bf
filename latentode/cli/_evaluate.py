"""``latentode evaluate``: score a saved forecaster on held-out values, baselines beside it.

The task hides values of ``--data`` — each series' last ``--fraction`` of timestamps
(``extrapolation``) or a random ``--fraction`` of its observed values (``interpolation``) —
and forecasts them from the rest. Every hidden value is divided by its feature's standard
deviation on ``--data``, so the metrics pool features in comparable units: MSE, MAE, CRPS
(from ``--n-samples`` predictive draws), pinball loss (mean over the 0.1 / 0.5 / 0.9
quantiles) and the coverage of the central ``--coverage`` interval. With ``--baselines``
the baseline suite is fitted (on ``--baseline-train``, default the visible part of
``--data``: the values the model sees too) and scored on the same hidden values.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from latentode.cli._demo import dense_queries
from latentode.cli._io import echo, load_model, read_frame, write_json

__all__ = ["BASELINES", "evaluate"]

#: ``--baselines`` names → latentode.baselines classes.
BASELINES = {
    "last_value": "LastValueBaseline",
    "linear": "LinearInterpolationBaseline",
    "gp": "GPBaseline",
    "gradient_boosting": "GradientBoostingBaseline",
}
_METRICS = ("mse", "mae", "crps", "pinball", "coverage")


def evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from latentode import baselines as suite
    from latentode.cli._commands import levels
    from latentode.evaluation import extrapolation_task, interpolation_task, score_forecast
    from latentode.exceptions import ParameterError

    names = _baseline_names(args.baselines)
    (coverage,) = levels(args.coverage, "--coverage", percent=True)[:1] or [0.8]
    if not 0.0 < args.fraction < 1.0:
        raise ParameterError(f"--fraction must be in (0, 1), e.g. 0.2. Got {args.fraction}.")
    est = load_model(args.model, args.tracking_uri)
    if not hasattr(est, "predict_interval"):
        raise ParameterError(
            f"--model {args.model!r} holds a {type(est).__name__}; latentode evaluate scores "
            "forecasters."
        )
    ids, times, features = est.id_col, est.time_col, list(est.feature_cols_)
    df = read_frame(args.data, ids, times, args.parse_dates)
    keys = {"target_cols": features, "id_col": ids, "time_col": times}
    if args.task == "extrapolation":
        history, target = extrapolation_task(df, fraction=args.fraction, **keys)
    else:
        history, target = interpolation_task(
            df, fraction=args.fraction, random_state=args.seed, **keys
        )
    if target[features].notna().to_numpy().sum() == 0:
        raise ParameterError(
            f"--data {args.data!r} leaves nothing to hide for the {args.task} task: every "
            "series needs at least two observed times."
        )
    scale = {}
    for f in features:
        std = float(np.nanstd(df[f].to_numpy(np.float64)))
        scale[f] = std if math.isfinite(std) and std > 0 else 1.0
    score = {"n_samples": args.n_samples, "coverage": coverage, "id_col": ids, "time_col": times}
    results = {"latent ODE": score_forecast(est, history, target, scale, **score)}
    seconds: dict[str, float] = {}
    train = history
    if names and args.baseline_train:
        train = read_frame(args.baseline_train, ids, times, args.parse_dates)
    for name in names:
        cls = getattr(suite, BASELINES[name])
        start = time.perf_counter()
        model = cls(id_col=ids, time_col=times, feature_cols=features, random_state=args.seed)
        model.fit(train)
        results[name] = score_forecast(model, history, target, scale, **score)
        seconds[name] = time.perf_counter() - start
    report = {
        "task": args.task,
        "fraction": args.fraction,
        "data": args.data,
        "model": args.model,
        "units": "each feature divided by its standard deviation on --data",
        "coverage_level": coverage,
        "n_series": int(history[ids].nunique()),
        "n_hidden_values": results["latent ODE"]["n"],
        "metrics": results,
        "baseline_fit_seconds": seconds,
    }
    if names:
        report["best_baseline"] = {
            m: min(names, key=lambda n: _loss(results[n], m, coverage)) for m in _METRICS
        }
    _table(results, coverage, args.task)
    if args.output:
        write_json(report, args.output)
        echo(f"wrote {args.output}")
    if args.plot:
        _plot(est, history, target, features[0], args)
        echo(f"wrote {args.plot}")
    return 0


def _baseline_names(text: str | None) -> list[str]:
    from latentode.exceptions import ParameterError

    if text is None:
        return []
    if text == "all":
        return list(BASELINES)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BASELINES]
    if unknown or not names:
        raise ParameterError(
            f"--baselines takes 'all' or a comma-separated list of {', '.join(BASELINES)}. "
            f"Got {text!r}."
        )
    return names


def _loss(scores: dict[str, float], metric: str, coverage: float) -> float:
    # Coverage is good when close to its level; every other metric when small.
    return abs(scores[metric] - coverage) if metric == "coverage" else scores[metric]


def _table(results: dict[str, dict[str, float]], coverage: float, task: str) -> None:
    head = f"{'':<20}{'MSE':>9}{'MAE':>9}{'CRPS':>9}{'pinball':>9}{f'cov {coverage:.0%}':>10}"
    echo(f"{task}: {results['latent ODE']['n']} hidden values (standardised units)")
    echo(head)
    for name, s in results.items():
        echo(
            f"{name:<20}{s['mse']:>9.4f}{s['mae']:>9.4f}{s['crps']:>9.4f}"
            f"{s['pinball']:>9.4f}{s['coverage']:>10.2f}"
        )


def _plot(est: Any, history: Any, target: Any, feature: str, args: argparse.Namespace) -> None:
    from pathlib import Path

    from latentode._persist import atomic_file
    from latentode.plotting.forecast import plot_forecast

    ids, times = est.id_col, est.time_col
    shown = list(target[ids].drop_duplicates().iloc[:6])
    hist = history[history[ids].isin(shown)]
    truth = target[target[ids].isin(shown)]
    grid = dense_queries(hist, truth, id_col=ids, time_col=times)
    band = est.predict_interval(hist, at=grid, coverage=0.8)
    fig = plot_forecast(
        hist,
        band,
        feature=feature,
        id_col=ids,
        time_col=times,
        truth=truth,
        title=f"{args.task}: 80 % predictive band, held-out values hollow",
    )
    Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(Path(args.plot)) as tmp:
        fig.savefig(tmp, dpi=110, format=Path(args.plot).suffix.lstrip(".") or "png")
