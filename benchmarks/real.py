"""Real irregular data: four baselines and the Latent ODE on extrapolation and interpolation.

Protocol
--------
For each set (``latentode.datasets`` real loaders; ``--quick`` uses the documented quick
subsamples): the series are split 70 / 30 at random (seed 0, ``series_split``); every
method is fitted once on the training series; on the test series two tasks are scored:

* extrapolation: observe all but the last 20 % of each series' timestamps, predict those;
* interpolation: hide a random 30 % of the observed values, predict them.

Scores (``latentode.evaluation.score_forecast``) are in train-standardised units (each
feature divided by its training std) and pooled over all held-out values: MSE, MAE, CRPS
from 100 samples, mean pinball loss at (0.1, 0.5, 0.9), coverage of the central 80 %
interval. ``fit_s`` is the fit time in seconds. For remifentanil only ``conc`` is scored:
``rate`` is the infusion rate, known ahead (``latentode.datasets.REAL_SETS``), so it stays
in every method's history at the hidden times too, and the Latent ODE takes it as a known
covariate (``covariate_cols=["rate"]``; a variant with ``"known": false`` treats it as a
feature instead).

Methods: ``LastValueBaseline``, ``LinearInterpolationBaseline``, ``GPBaseline``,
``GradientBoostingBaseline`` and ``LatentODEForecaster(max_time=--seconds)`` (its
defaults: ODE-RNN encoder, Euler decoder on each series' grid, batch 100). Writes
``benchmarks/results/real.json``.

Run: ``python benchmarks/real.py --quick --seconds 120`` (about 15 minutes on 2 cores);
``--sets nafld,flights`` picks sets.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import pandas as pd
import torch

from latentode import LatentODEForecaster
from latentode.baselines import (
    GPBaseline,
    GradientBoostingBaseline,
    LastValueBaseline,
    LinearInterpolationBaseline,
)
from latentode.datasets import REAL_SETS
from latentode.estimators.forecaster import _build
from latentode.evaluation import holdout_tasks, score_forecast

RESULTS = Path(__file__).resolve().parent / "results"
SETS = REAL_SETS


def with_static(frame: pd.DataFrame, static: pd.DataFrame, fill: pd.Series) -> pd.DataFrame:
    """``frame`` with the static covariates as columns (unknown values: the training mean)."""
    return frame.merge(static.fillna(fill), on="unique_id", how="left")


#: The Latent ODE settings every variant starts from (``--variants`` overrides them); a
#: variant with ``"static": true`` also gets the set's static covariates (``static_cols``),
#: one with ``"transforms": true`` the set's declared ``feature_transforms``;
#: every variant gets the set's known covariates (``covariate_cols``) unless ``"known":
#: false``. The defaults, with ``max_epochs`` lifted so that ``--seconds`` bounds the fit.
LATENT_ODE: dict = dict(max_epochs=100_000)


def methods(
    seconds: float, seed: int, variants: dict, baselines: list[str], epochs: int | None = None
) -> dict:
    out = {
        "last_value": LastValueBaseline(random_state=seed),
        "linear": LinearInterpolationBaseline(random_state=seed),
        "gp": GPBaseline(random_state=seed),
        "gradient_boosting": GradientBoostingBaseline(random_state=seed),
    }
    out = {k: v for k, v in out.items() if k in baselines}
    for name, params in variants.items():
        settings = {
            k: v
            for k, v in {**LATENT_ODE, **params}.items()
            if k not in ("static", "known", "transforms")
        }
        if epochs is not None:  # a fixed number of epochs: same-seed variants train alike
            settings["max_epochs"] = epochs
        out[name] = LatentODEForecaster(
            **settings,
            max_time=None if epochs is not None else seconds,
            device="cpu",
            random_state=seed,
        )
    return out


def run_set(
    name: str,
    quick: bool,
    seconds: float,
    seed: int,
    variants: dict,
    baselines: list[str],
    epochs: int | None = None,
    n_series: int | None = None,
) -> dict:
    spec = SETS[name]
    if n_series is not None:  # another subsample size than the registry's
        spec = dataclasses.replace(spec, full={**spec.full, "n_series": n_series})
    data = spec.load(quick)
    df = data.frame
    features = [c for c in df.columns if c not in ("unique_id", "ds")]
    scored = spec.targets or features
    train, tasks, scale = holdout_tasks(
        df, target_cols=scored, known_cols=spec.known, random_state=seed
    )
    out = {
        "n_series": int(df["unique_id"].nunique()),
        "n_rows": len(df),
        "n_train_series": int(train["unique_id"].nunique()),
        "features": features,
        "scored": scored,
        "known": list(spec.known),
        "tasks": {t: {} for t in tasks},
    }
    static = data.static
    fill = None
    if static is not None:
        fill = static[static["unique_id"].isin(train["unique_id"])].mean(numeric_only=True)
        out["static"] = [c for c in static.columns if c != "unique_id"]
    for method, est in methods(seconds, seed, variants, baselines, epochs).items():
        uses_static = bool(variants.get(method, {}).get("static")) and static is not None
        if uses_static:
            est.set_params(static_cols=out["static"])
        if method in variants and spec.known and variants[method].get("known", True):
            est.set_params(covariate_cols=list(spec.known))
        if method in variants and variants[method].get("transforms"):
            est.set_params(feature_transforms=dict(spec.transforms))
        fit_frame = with_static(train, static, fill) if uses_static else train
        t0 = time.perf_counter()
        est.fit(fit_frame)
        fit_s = time.perf_counter() - t0
        for task, (history, target) in tasks.items():
            if uses_static:
                history = with_static(history, static, fill)
            t1 = time.perf_counter()
            scores = score_forecast(est, history, target, scale, n_samples=100, coverage=0.8)
            scores.update(fit_s=fit_s, predict_s=time.perf_counter() - t1)
            out["tasks"][task][method] = scores
            print(
                f"{name:13s} {task:13s} {method:18s} "
                + " ".join(f"{k}={v:.3f}" for k, v in scores.items() if k != "n"),
                flush=True,
            )
        if method in variants:
            out.setdefault("epochs", {})[method] = int(est.n_epochs_)
            out.setdefault("noise_calibration", {})[method] = est.noise_calibration_
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick subsamples")
    parser.add_argument("--seconds", type=float, default=300.0, help="Latent ODE budget per set")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument(
        "--epochs",
        type=int,
        help="train the Latent ODE variants this many epochs (early stopping still applies) "
        "instead of --seconds: variants that differ only after training (e.g. "
        "calibrate_noise) then share their training exactly, whatever the machine's load",
    )
    parser.add_argument(
        "--n-series",
        action="append",
        default=[],
        metavar="SET=N",
        help="load N series of SET (nafld, flights) instead of the registry's size",
    )
    parser.add_argument(
        "--auto-patience-steps",
        type=int,
        help="measure another patience='auto' rule: wait this many optimiser steps "
        "(latentode.estimators.forecaster._build.AUTO_PATIENCE_STEPS) instead of the default",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "real.json")
    parser.add_argument(
        "--variants",
        default='{"latent_ode": {}}',
        help="JSON: Latent ODE variant name -> parameters over the defaults " + str(LATENT_ODE),
    )
    parser.add_argument(
        "--baselines",
        default="last_value,linear,gp,gradient_boosting",
        help="comma-separated baselines to run beside the model ('' for none)",
    )
    args = parser.parse_args()
    if args.auto_patience_steps is not None:
        _build.AUTO_PATIENCE_STEPS = args.auto_patience_steps
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    names = [s for s in args.sets.split(",") if s]
    variants = json.loads(args.variants)
    baselines = [b for b in args.baselines.split(",") if b]
    unknown = sorted(set(names) - set(SETS))
    if unknown:
        parser.error(f"unknown set(s) {unknown}; choose from {sorted(SETS)}")
    sizes = {k: int(v) for k, v in (item.split("=", 1) for item in args.n_series)}
    result = {
        "meta": {
            "quick": args.quick,
            "seconds": None if args.epochs is not None else args.seconds,
            "epochs": args.epochs,
            "variants": {k: {**LATENT_ODE, **v} for k, v in variants.items()},
            "seed": args.seed,
            "auto_patience_steps": _build.AUTO_PATIENCE_STEPS,
            "n_series": sizes,
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "sets": {
            name: run_set(
                name,
                args.quick,
                args.seconds,
                args.seed,
                variants,
                baselines,
                args.epochs,
                sizes.get(name),
            )
            for name in names
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
