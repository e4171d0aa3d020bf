"""Noise calibrations compared on the same trained weights (real data).

Protocol: ``benchmarks/real.py``'s split and tasks (seed 0). One ``LatentODEForecaster``
per set (defaults, ``--epochs`` epochs, the set's known covariates), trained once; then
each calibration variant is run from the same trained noise scale on the same validation
series, and the held-out tasks are scored (CRPS, 80 % coverage, per feature and pooled).
Training noise is out of the comparison: only the calibration differs. Variants:

* ``one_multiplier``: one noise multiplier per feature (the calibration before the
  regimes);
* ``per_regime`` (the default): one multiplier for values hidden beside another feature
  observed at the same step, one for the rest;
* ``student_t``: ``per_regime`` with Student-t tails (``noise="student_t"``);
* ``per_regime_4_contexts``: ``per_regime`` over four random contexts per validation
  series instead of one.

Each row also records the validation values' 80 % coverage after the calibration
(``val_coverage``).

The posterior samples of the calibration are random, so two calibrations of the same
weights differ slightly even where they pick the same rule (CRPS within about 0.001).

Run: ``python benchmarks/calibration.py`` (about 10 minutes on 2 cores); ``--sets``,
``--epochs`` (or ``--seconds``: a training budget, as ``real.py`` has). Writes
``benchmarks/results/calibration.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentode import LatentODEForecaster
from latentode.datasets import REAL_SETS
from latentode.estimators.forecaster._calibration import calibrate_noise
from latentode.estimators.forecaster._training import LatentTraining
from latentode.evaluation import holdout_tasks, score_forecast

RESULTS = Path(__file__).resolve().parent / "results"

#: Variant → keyword arguments of ``calibrate_noise``.
VARIANTS: dict[str, dict[str, Any]] = {
    "one_multiplier": {"split_concurrent": False},
    "per_regime": {},
    "student_t": {"student_t": True},
    "per_regime_4_contexts": {"n_contexts": 4},
}


def _fit(
    name: str, epochs: int, seed: int, seconds: float | None = None
) -> tuple[LatentODEForecaster, Any, dict, dict]:
    """The set's trained forecaster, its validation series, tasks and scales."""
    spec = REAL_SETS[name]
    df = spec.load().frame
    scored = spec.targets or [c for c in df.columns if c not in ("unique_id", "ds")]
    train, tasks, scale = holdout_tasks(
        df, target_cols=scored, known_cols=spec.known, random_state=seed
    )
    est = LatentODEForecaster(
        max_epochs=epochs if seconds is None else 100_000,
        max_time=seconds,
        random_state=seed,
        device="cpu",
        covariate_cols=list(spec.known) or None,
    )
    kept: dict[str, Any] = {}
    after_fit = est._after_fit

    def keep_validation(prepared: Any) -> None:  # the validation series the fit used
        kept["val"] = prepared.val
        after_fit(prepared)

    est._after_fit = keep_validation  # type: ignore[method-assign]
    est.fit(train)
    return est, kept["val"], tasks, scale


def _reset(est: LatentODEForecaster, trained: np.ndarray) -> None:
    """The head's noise as training left it."""
    head = est.module_.observation
    with torch.no_grad():
        head.log_std.copy_(torch.as_tensor(np.log(trained), dtype=head.log_std.dtype))
        head.inv_df.zero_()
        if hasattr(head, "log_concurrent"):
            head.log_concurrent.zero_()


def run_set(
    name: str, epochs: int, seed: int, variants: list[str], seconds: float | None = None
) -> dict:
    start = time.perf_counter()
    est, val, tasks, scale = _fit(name, epochs, seed, seconds)
    out: dict[str, Any] = {
        "fit_s": time.perf_counter() - start,
        "epochs": int(est.n_epochs_),
        "features": list(est.feature_cols_),
    }
    trained = np.asarray(est.noise_calibration_["trained_std"])
    context = LatentTraining.from_params(est).context
    for variant in variants:
        _reset(est, trained)
        kwargs = {**VARIANTS[variant], "metric": "crps"}
        summary = calibrate_noise(est.module_, val, context, est.seed_, **kwargs)
        row: dict[str, Any] = {
            "df": summary["df"],
            "concurrent_ratio": summary["concurrent_ratio"],
            "multiplier": (np.asarray(summary["calibrated_std"]) / trained).tolist(),
            "val_coverage": summary["val_coverage_calibrated"],
        }
        for task, (history, target) in tasks.items():
            features = [c for c in target.columns if c not in ("unique_id", "ds")]
            scores = {"all": score_forecast(est, history, target, scale, n_samples=100)}
            for f in features:
                part = target[["unique_id", "ds", f]].dropna()
                scores[f] = score_forecast(est, history, part, scale, n_samples=100)
            row[task] = scores
            pooled = scores["all"]
            print(
                f"{name:13s} {task:13s} {variant:15s} crps={pooled['crps']:.4f} "
                f"coverage={pooled['coverage']:.3f} val_coverage={row['val_coverage']:.3f}",
                flush=True,
            )
        out[variant] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(REAL_SETS))
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument(
        "--seconds", type=float, help="train for this budget (as real.py does) instead"
    )
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "calibration.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {sorted(VARIANTS)}")
    result: dict[str, Any] = {
        "meta": {
            "epochs": args.epochs if args.seconds is None else None,
            "seconds": args.seconds,
            "seed": args.seed,
            "variants": variants,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "command": "python benchmarks/calibration.py",
        },
        "sets": {},
    }
    for name in args.sets.split(","):
        result["sets"][name] = run_set(name, args.epochs, args.seed, variants, args.seconds)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
