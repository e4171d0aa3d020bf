"""Does averaging independently trained forecasters help on real data? (a lever probe)

Protocol: ``benchmarks/real.py``'s split and tasks (seed 0) on one real set; ``--members``
forecasters with the settings of ``real.py`` (``method="euler"``, ``max_time=--seconds``
each) and random states 0, 1, ...; each member scored alone and the first ``j`` members
as one ensemble (mean of their means; CRPS and the 80 % interval from 100 draws taken
evenly from the members). Writes ``benchmarks/results/real_ensemble_<set>.json``.

Run: ``python benchmarks/real_ensemble.py flights --members 3 --seconds 150``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from latentode import LatentODEForecaster
from latentode.datasets import REAL_SETS
from latentode.evaluation import crps_ensemble, holdout_tasks, interval_coverage

RESULTS = Path(__file__).resolve().parent / "results"


def _scores(mean: np.ndarray, samples: np.ndarray, y: np.ndarray) -> dict[str, float]:
    ok = np.isfinite(y)
    lo, hi = np.quantile(samples, [0.1, 0.9], axis=0)
    return {
        "mse": float(np.mean((mean - y)[ok] ** 2)),
        "crps": crps_ensemble(samples, y),
        "coverage": interval_coverage(lo, hi, y),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", choices=sorted(REAL_SETS))
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=150.0, help="budget of each member")
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = REAL_SETS[args.set]
    df = spec.load().frame
    scored = spec.targets or [c for c in df.columns if c not in ("unique_id", "ds")]
    train, tasks, scale = holdout_tasks(
        df, target_cols=scored, known_cols=spec.known, random_state=0
    )
    members = []
    for seed in range(args.members):
        est = LatentODEForecaster(
            method="euler",
            max_epochs=100_000,
            max_time=args.seconds,
            device="cpu",
            random_state=seed,
            covariate_cols=list(spec.known) or None,
        )
        start = time.perf_counter()
        est.fit(train)
        print(f"member {seed}: {time.perf_counter() - start:.0f} s, {est.n_epochs_} epochs")
        members.append(est)
    out: dict[str, dict[str, float]] = {}
    for task, (history, target) in tasks.items():
        at = target[["unique_id", "ds"]]
        y = np.concatenate([target[f].to_numpy(float) / scale[f] for f in scored])
        means, draws = [], []
        for est in members:
            p, s = est.predict(history, at=at), est.sample(history, at=at, n_samples=100)
            means.append(np.concatenate([np.asarray(p[f], float) / scale[f] for f in scored]))
            draws.append(
                np.concatenate(
                    [np.asarray(s[f], float).reshape(100, -1) / scale[f] for f in scored], axis=1
                )
            )

        for i in range(len(members)):
            out[f"{task}/member{i}"] = _scores(means[i], draws[i], y)
        for j in range(2, len(members) + 1):
            pooled = np.concatenate([d[: -(-100 // j)] for d in draws[:j]], axis=0)[:100]
            out[f"{task}/ensemble{j}"] = _scores(np.mean(means[:j], axis=0), pooled, y)
    for key, value in out.items():
        print(key, {k: round(v, 4) for k, v in value.items()})
    meta = {"set": args.set, "members": args.members, "seconds": args.seconds}
    path = RESULTS / f"real_ensemble_{args.set}.json"
    path.write_text(json.dumps({"meta": meta, "scores": out}, indent=2))


if __name__ == "__main__":
    main()
