"""What ``FFJORDDensity`` gives with its defaults, against a Gaussian mixture and a KDE.

Protocol (issue 12): seven sets, each 4,000 training and 2,000 test points (digits: the
1,797 scikit-learn digits PCA-reduced to 10 dimensions, 1,200 / 597), seed 0:
two moons at noise 0.05 and 0.1 (scikit-learn's layout, raw scale), 8 Gaussians,
checkerboard, pinwheel (``benchmarks/_toy2d.py``), two spirals and digits-10.
Models, each fitted on the training points only and scored by held-out mean negative
log-likelihood (nats per point, lower is better), with wall-clock fit seconds (1 thread):

* ``ffjord_default``: ``FFJORDDensity(random_state=0)``, nothing else set (its base is a
  BIC-chosen Gaussian mixture, ``base="gmm"``);
* ``ffjord_normal``: the defaults before (``base="normal"``, i.e. ``N(0, I)``, ``lr=5e-3``,
  100 epochs with patience 10);
* ``gmm``: ``GaussianMixture`` (full covariances) of lowest BIC over
  ``{1, 2, 4, 8, 12, 16, 24, 32}`` components;
* ``kde``: ``KernelDensity`` with the bandwidth of best 3-fold CV likelihood over 12
  log-spaced values in ``[0.02, 1]`` (times the data's mean std).

``true_nll`` is the generating density's NLL on the test points where it is known (moons,
8 Gaussians, checkerboard). Writes ``benchmarks/results/density_defaults.json``.

Run: ``python benchmarks/density_defaults.py`` (about 20 minutes on one core);
``--sets moons_0.05 digits`` picks sets, ``--methods`` models.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _toy2d import TOY_SETS, TRUE_NLL, _mixture_nll

RESULTS = Path(__file__).resolve().parent / "results"


def _moons_centres() -> np.ndarray:
    a = np.linspace(0, np.pi, 4001)
    outer = np.stack([np.cos(a), np.sin(a)], axis=1)
    inner = np.stack([1 - np.cos(a), 1 - np.sin(a) - 0.5], axis=1)
    return np.concatenate([outer, inner])


def moons(noise: float) -> Callable[[int, np.random.Generator], np.ndarray]:
    def draw(n: int, rng: np.random.Generator) -> np.ndarray:
        a = rng.uniform(0, np.pi, n)
        outer = rng.uniform(size=n) < 0.5
        x = np.where(
            outer[:, None],
            np.stack([np.cos(a), np.sin(a)], axis=1),
            np.stack([1 - np.cos(a), 1 - np.sin(a) - 0.5], axis=1),
        )
        return x + rng.normal(scale=noise, size=(n, 2))

    return draw


def two_spirals(n: int, rng: np.random.Generator) -> np.ndarray:
    """Two interleaved arms ``θ (−cos θ, sin θ)`` and its mirror, θ up to 3π, noise 0.3."""
    theta = np.sqrt(rng.uniform(size=n)) * 3 * np.pi
    arm = np.stack([-np.cos(theta) * theta, np.sin(theta) * theta], axis=1)
    sign = np.where(rng.uniform(size=n) < 0.5, 1.0, -1.0)[:, None]
    return (arm * sign + rng.normal(scale=0.3, size=(n, 2))) / 3


def digits(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    x = load_digits().data[rng.permutation(1797)]
    train, test = x[:1200], x[1200:]
    pca = PCA(10, random_state=0).fit(train)
    return pca.transform(train), pca.transform(test)


SETS = ("moons_0.05", "moons_0.1", "eight_gaussians", "checkerboard", "pinwheel")
SETS += ("two_spirals", "digits")


def make_set(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, float | None]:
    rng = np.random.default_rng(seed)
    if name == "digits":
        return (*digits(rng), None)
    if name.startswith("moons_"):
        noise = float(name.split("_")[1])
        draw = moons(noise)
        train, test = draw(4000, rng), draw(2000, rng)
        return train, test, _mixture_nll(test, _moons_centres(), noise)
    draw = two_spirals if name == "two_spirals" else TOY_SETS[name]
    train, test = draw(4000, rng), draw(2000, rng)
    true = TRUE_NLL[name](test) if name in TRUE_NLL else None
    return train, test, true


def fit_score(
    method: str, train: np.ndarray, test: np.ndarray, seed: int, overrides: dict | None = None
) -> dict:
    from sklearn.mixture import GaussianMixture
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KernelDensity

    from latentode import FFJORDDensity

    start = time.perf_counter()
    extra: dict = {}
    if method.startswith("ffjord"):
        # ffjord_normal: the defaults before this benchmark (N(0, I) base, lr 5e-3, 100
        # epochs with patience 10)
        old = {"base": "normal", "lr": 5e-3, "max_epochs": 100, "patience": 10}
        params = old if method == "ffjord_normal" else dict(overrides or {})
        est = FFJORDDensity(random_state=seed, **params).fit(train)
        extra = {"epochs": est.n_epochs_, "best_epoch": est.best_epoch_}
        if est.n_base_components_ is not None:
            extra["base_components"] = est.n_base_components_
    elif method == "gmm":
        fits = [
            GaussianMixture(k, covariance_type="full", random_state=seed).fit(train)
            for k in (1, 2, 4, 8, 12, 16, 24, 32)
        ]
        est = min(fits, key=lambda g: g.bic(train))
        extra = {"components": int(est.n_components)}
    else:
        scale = float(train.std(axis=0).mean())
        grid = {"bandwidth": np.logspace(np.log10(0.02), 0, 12) * scale}
        est = GridSearchCV(KernelDensity(), grid, cv=3).fit(train).best_estimator_
        extra = {"bandwidth": float(est.bandwidth)}
    fit_s = time.perf_counter() - start
    nll = float(-np.mean(est.score_samples(test)))
    return {"nll": nll, "fit_s": fit_s, **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument(
        "--methods", nargs="+", default=["ffjord_default", "ffjord_normal", "gmm", "kde"]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "density_defaults.json")
    parser.add_argument("--note", help="a line for RESULTS.md, e.g. which rows this run made")
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        help="JSON of FFJORDDensity overrides for ffjord_default (with --label: a variant)",
    )
    parser.add_argument("--label", help="store the ffjord_default run under this name")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out: dict = {"machine": platform.platform(), "seed": args.seed, "sets": {}}
    if args.note:
        out["note"] = args.note
    if args.out.is_file():  # keep other sets' figures when running a subset
        out["sets"] = json.loads(args.out.read_text()).get("sets", {})
    for name in args.sets:
        train, test, true = make_set(name, args.seed)
        row: dict = {"true_nll": true, "n_train": len(train), "dim": train.shape[1]}
        row.update(out["sets"].get(name, {}))
        for method in args.methods:
            label = args.label if args.label and method == "ffjord_default" else method
            row[label] = fit_score(method, train, test, args.seed, args.params)
            if args.params and method == "ffjord_default":
                row[label]["params"] = args.params
            print(name, label, row[label], flush=True)
        out["sets"][name] = row
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
