"""Are the Latent ODE and the best baselines complementary on real data? (a lever probe)

Protocol: ``benchmarks/real.py``'s split and tasks (``--seed``) on one real set; the
Latent ODE (defaults, ``max_time=--seconds``, the set's known covariates), the per-series
GP and the global gradient-boosting model fitted on the training series; on each task,
their 100 draws and means, and blends of the model with each baseline: ``lode+B@w``, a
mixture (the model's first ``100 (1 - w)`` draws and the baseline's first ``100 w``; mean
the ``w``-weighted mean) and ``lode_shiftB@w``, the model's draws shifted to that weighted
mean. Scores as ``real.py``'s (train-standardised units, pooled): MSE of the mean, CRPS
of the draws, coverage of their central 80 %.

If a blend beat the model clearly, a hybrid (a baseline as residual model, or stacking)
would be the lever to build. Writes the set's entry of
``benchmarks/results/real_blend.json`` (other sets' entries kept).

Run: ``python benchmarks/real_blend.py nafld --seconds 200``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from latentode import LatentODEForecaster
from latentode.baselines import GPBaseline, GradientBoostingBaseline
from latentode.datasets import REAL_SETS
from latentode.evaluation import holdout_tasks

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_ensemble import _scores  # MSE, CRPS and coverage of draws

RESULTS = Path(__file__).resolve().parent / "results"
N_DRAWS = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", choices=sorted(REAL_SETS))
    parser.add_argument("--seconds", type=float, default=200.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = REAL_SETS[args.set]
    df = spec.load().frame
    scored = spec.targets or [c for c in df.columns if c not in ("unique_id", "ds")]
    train, tasks, scale = holdout_tasks(
        df, target_cols=scored, known_cols=spec.known, random_state=args.seed
    )
    models = {
        "gp": GPBaseline(random_state=args.seed),
        "gb": GradientBoostingBaseline(random_state=args.seed),
        "lode": LatentODEForecaster(
            max_epochs=100_000,
            max_time=args.seconds,
            device="cpu",
            random_state=args.seed,
            covariate_cols=list(spec.known) or None,
        ),
    }
    fit_s = {}
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(train)
        fit_s[name] = time.perf_counter() - start
    out: dict = {"seconds": args.seconds, "seed": args.seed, "fit_s": fit_s, "tasks": {}}
    for task, (history, target) in tasks.items():
        at = target[["unique_id", "ds"]]
        draws, means = {}, {}
        for name, model in models.items():
            d, p = model.sample(history, at=at, n_samples=N_DRAWS), model.predict(history, at=at)
            draws[name] = np.concatenate(
                [np.asarray(d[f], float).reshape(N_DRAWS, -1) / scale[f] for f in scored], 1
            )
            means[name] = np.concatenate([np.asarray(p[f], float) / scale[f] for f in scored])
        y = np.concatenate([target[f].to_numpy(float) / scale[f] for f in scored])
        rows = {name: _scores(means[name], draws[name], y) for name in models}
        for base in ("gp", "gb"):
            for w in (0.25, 0.5, 0.75):
                n = round(N_DRAWS * w)
                mixed = np.concatenate([draws["lode"][: N_DRAWS - n], draws[base][:n]])
                mean = (1 - w) * means["lode"] + w * means[base]
                rows[f"lode+{base}@{w}"] = _scores(mean, mixed, y)
                shifted = draws["lode"] - means["lode"] + mean
                rows[f"lode_shift{base}@{w}"] = _scores(mean, shifted, y)
        out["tasks"][task] = rows
        for name, row in rows.items():
            print(args.set, task, f"{name:18s}", " ".join(f"{k}={v:.4f}" for k, v in row.items()))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "real_blend.json"
    merged = json.loads(path.read_text()) if path.exists() else {"sets": {}}
    merged["sets"][args.set] = out
    merged["meta"] = {"command": "python benchmarks/real_blend.py SET --seconds 200"}
    path.write_text(json.dumps(merged, indent=1))


if __name__ == "__main__":
    main()
