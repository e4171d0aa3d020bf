"""What limits FFJORDDensity on two moons: quality-run variants at a fixed epoch budget.

The density benchmark (``benchmarks/density.py``) leaves FFJORD about 0.007 nats behind the
BIC Gaussian mixture on two moons. This script trains variants of its quality
configuration (``QUALITY_PARAMS``) for a fixed number of epochs, not seconds, so that the
test NLL does not depend on how busy the machine is, and scores each on the same 10,000
test points at rtol = atol = 1e-5. ``--ema`` also scores an exponential moving average of
the weights (updated after every optimiser step).

Each variant is one process; run them side by side, one thread each::

    python benchmarks/density_ablation.py --variant base --ema 0.999
    python benchmarks/density_ablation.py --variant wd0.01 --ema 0.999
    python benchmarks/density_ablation.py --variant wd0.01 --epochs 150

Appends one row per run to ``benchmarks/results/density_ablation.json``; ``fit_seconds``
of runs made side by side are inflated by the contention and are not comparable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _toy2d import TOY_SETS, TRUE_NLL
from density import QUALITY_PARAMS

from latentode.estimators.density import FFJORDDensity
from latentode.training.callbacks import Callback

RESULTS = Path(__file__).resolve().parent / "results" / "density_ablation.json"


def _penalties(weight: float) -> dict:
    return {"kinetic_weight": weight, "jacobian_weight": weight}


#: Changes to ``QUALITY_PARAMS`` by name.
VARIANTS: dict[str, dict] = {
    "base": {},
    "wd0.01": {"weight_decay": 0.01},
    "wd0.1": {"weight_decay": 0.1},
    "wd0.01-penalties0.003": {"weight_decay": 0.01, **_penalties(3e-3)},
    "wd0.01-penalties0.05": {"weight_decay": 0.01, **_penalties(0.05)},
    "wd0.01-width32": {"weight_decay": 0.01, "hidden_dims": (32, 32, 32)},
    "wd0.01-width128": {"weight_decay": 0.01, "hidden_dims": (128, 128, 128)},
    "wd0.01-2blocks": {"weight_decay": 0.01, "n_blocks": 2},
}


class WeightAverage(Callback):
    """Exponential moving average of the parameters, updated after each optimiser step."""

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.average: list[torch.Tensor] = []

    def on_fit_start(self, trainer) -> None:
        params = list(trainer.model.parameters())
        self.average = [p.detach().clone() for p in params]

        def update(optimizer, args, kwargs) -> None:
            with torch.no_grad():
                for avg, p in zip(self.average, params):
                    avg.lerp_(p.detach(), 1.0 - self.decay)

        trainer.optimizer.register_step_post_hook(update)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", choices=list(VARIANTS), default="base")
    parser.add_argument("--set", choices=list(TOY_SETS), default="two_moons")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--ema", type=float, default=0.0, help="also score an EMA (e.g. 0.999)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)  # the same points as benchmarks/density.py
    train, test = TOY_SETS[args.set](10_000, rng), TOY_SETS[args.set](10_000, rng)
    params = {**QUALITY_PARAMS, **VARIANTS[args.variant]}
    average = WeightAverage(args.ema) if args.ema else None
    est = FFJORDDensity(
        base="normal",  # as measured (the defaults then: base N(0, I), patience 10)
        patience=10,
        max_epochs=args.epochs,
        random_state=args.seed,
        callbacks=[average] if average else None,
        **params,
    )
    start = time.perf_counter()
    est.fit(train)
    row = {
        "variant": args.variant,
        "set": args.set,
        "epochs": est.n_epochs_,
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
        "fit_seconds": time.perf_counter() - start,
        "train_nll_last_epoch": est.history_[-1]["train_nll"],
        "test_nll": -est.score(test),
        "true_density_nll": TRUE_NLL[args.set](test) if args.set in TRUE_NLL else None,
    }
    if average is not None:
        with torch.no_grad():
            for p, avg in zip(est.module_.parameters(), average.average):
                p.copy_(avg)
        row["ema_decay"] = args.ema
        row["test_nll_ema"] = -est.score(test)
    report = json.loads(args.out.read_text()) if args.out.is_file() else {"runs": []}
    report["runs"].append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
