"""Dynamics recovery benchmark: ``NeuralODEDynamics`` against a SINDy baseline.

Protocol
--------
Four known systems (``latentode.datasets``): the linear spiral ``dz/dt = A z`` (4
trajectories, T = 25), the two-regime cubic oscillator ``dz/dt = A z**3`` (16, T = 25),
Lotka–Volterra (6, T = 10) and Lorenz-63 (4, T = 5). Each is simulated on a regular grid
over ``[0, T]``; every trajectory keeps a random 30 % of the grid points, with Gaussian
noise of 1 % of each component's standard deviation (Lotka–Volterra: multiplicative 1 %
noise). ``NeuralODEDynamics`` runs with its defaults (softplus MLP field, early stopping on
held-out trajectories, at most ``--max-time`` seconds), except for the two-regime field:
windows of 3 observations, batches of 1024 windows, lr 1e-2 decaying by 0.98 per epoch,
patience 50. Measured on seed 0 (90 s, field error on the data region), starting from the
earlier tanh default: defaults 16 %, batch 256 / lr 1e-2 13 %; with lr annealed to ~0 and
all trajectories used, batch 1024 10.0 %, windows of 3 9.2 %, softplus 9.4 %, 64 → 128
hidden units 12 %, windows of 8 15 %; the three helpful changes together 4.7 % (seed 1:
5.8 %). With
early stopping kept (patience 50, as run here): 5.1 / 7.8 / 5.1 % on seeds 0 / 1 / 2, and a
better extrapolation than training on all trajectories for the whole budget (0.19 vs 0.76,
0.48 vs 0.62 on seeds 0, 1). The error sits in the fast outer turns, seen only at the
start of the widest trajectories: an unbounded activation extrapolates the growing (cubic)
field better than tanh, short windows keep the fast turns' sensitivity to the noisy start
in check, and large batches (a step of 1024 windows costs about 3× one of 64, the solver's
work being mostly per step) average the gradient noise of those few windows.

Every figure is the median over ``--seeds`` (default 0, 1, 2; each seeds both the data and
the model); the JSON keeps the per-seed figures and counts the seeds meeting the field-error
target and those where the extrapolation beats SINDy's: the extrapolation errors of the
chaotic (Lorenz) and slowly creeping (two-regime) systems vary a lot between seeds and
checkpoints.

* **field error** — ``‖f̂ − f‖ / ‖f‖`` (root of summed squares) over the *data region*: the
  points of a regular grid (40² in 2-D, 16³ in 3-D) over the bounding box of the observed
  states that lie within one grid spacing of an observed state. ``field_error_5pct`` uses
  a wider region (within 5 % of the box diagonal), which also counts sparsely visited
  surroundings;
* **extrapolation error** — from the first trajectory's true initial state, both models
  simulate to ``2 T``; the RMSE over ``(T, 2T]`` against the true trajectory, divided by the
  true trajectory's standard deviation over ``[0, T]``;
* **fit seconds** — wall-clock time of ``fit`` (one CPU thread).

Baseline: ``pysindy.SINDy()`` with its defaults (degree-2 polynomial library, STLSQ with
threshold 0.1, finite differences), fitted on the same irregular trajectories (optional
dependency: ``pip install pysindy``; skipped when missing).

Run: ``python benchmarks/dynamics.py`` (``--quick`` for a short smoke run, ``--seeds 0``
for one seed); writes
``benchmarks/results/dynamics.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from latentode.datasets import (
    make_linear_spiral,
    make_lorenz,
    make_lotka_volterra,
    make_two_regime,
)
from latentode.estimators.dynamics import NeuralODEDynamics

RESULTS = Path(__file__).resolve().parent / "results"
STATE_COLS_SKIP = ("unique_id", "ds")

#: name -> (generator(seed) -> (df, system, T), estimator parameters, field-error target)
SYSTEMS: dict[str, tuple[Callable[[int], tuple[pd.DataFrame, Any, float]], dict, float | None]]


def _spiral(seed: int) -> tuple[pd.DataFrame, Any, float]:
    df, system = make_linear_spiral(n_series=4, n_points=1000, t_max=25.0, random_state=seed)
    return df, system, 25.0


def _two_regime(seed: int) -> tuple[pd.DataFrame, Any, float]:
    df, system = make_two_regime(n_series=16, n_points=1000, t_max=25.0, random_state=seed)
    return df, system, 25.0


def _lotka_volterra(seed: int) -> tuple[pd.DataFrame, Any, float]:
    df, system = make_lotka_volterra(
        n_series=6,
        n_points=150,
        grid_size=500,
        t_max=10.0,
        noise=0.01,
        random_state=seed,
        return_system=True,
    )
    return df, system, 10.0


def _lorenz(seed: int) -> tuple[pd.DataFrame, Any, float]:
    df, system = make_lorenz(n_series=4, n_points=1000, t_max=5.0, random_state=seed)
    return df, system, 5.0


SYSTEMS = {
    "linear_spiral": (_spiral, {}, 0.05),
    # Fast, sparsely observed outer turns (see the module docstring for the measurements).
    "two_regime": (
        _two_regime,
        {
            "window_size": 3,
            "batch_size": 1024,
            "lr": 1e-2,
            "lr_decay": 0.98,
            "patience": 50,
            "max_epochs": 1000,
        },
        0.10,
    ),
    "lotka_volterra": (_lotka_volterra, {}, 0.05),
    "lorenz": (_lorenz, {}, None),
}


# ---------------------------------------------------------------------------- metrics
def data_region(states: np.ndarray, per_axis: int, radius: str = "grid") -> np.ndarray:
    """Points of a regular grid over the states' bounding box that lie near a state.

    ``radius="grid"``: within one grid spacing of an observed state (the grid covers the
    observations at its own resolution); ``"5%"``: within 5 % of the box diagonal (also
    counts sparsely visited surroundings).
    """
    from scipy.spatial import cKDTree

    lo, hi = states.min(axis=0), states.max(axis=0)
    axes = [np.linspace(a, b, per_axis) for a, b in zip(lo, hi)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, states.shape[1])
    dist, _ = cKDTree(states).query(grid)
    if radius == "grid":
        limit = float(np.max((hi - lo) / (per_axis - 1)))
    else:
        limit = 0.05 * float(np.linalg.norm(hi - lo))
    return grid[dist <= limit]


def relative_field_error(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.sqrt(((pred - true) ** 2).sum() / (true**2).sum()))


def extrapolation_error(pred: np.ndarray, true: np.ndarray, t: np.ndarray, T: float) -> float:
    train, test = t <= T, t > T
    if not np.isfinite(pred[test]).all():
        return float("inf")
    rmse = np.sqrt(((pred[test] - true[test]) ** 2).mean())
    return float(rmse / true[train].std())


# ---------------------------------------------------------------------------- models
def fit_neural(df: pd.DataFrame, params: dict, max_time: float, seed: int) -> tuple[Any, float]:
    est = NeuralODEDynamics(random_state=seed, max_time=max_time, **params)
    start = time.perf_counter()
    est.fit(df)
    return est, time.perf_counter() - start


def fit_sindy(df: pd.DataFrame, cols: list[str]) -> tuple[Any, float]:
    import pysindy as ps

    xs, ts = [], []
    for _, g in df.groupby("unique_id", sort=False):
        xs.append(g[cols].to_numpy(np.float64))
        ts.append(g["ds"].to_numpy(np.float64))
    model = ps.SINDy()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(xs, t=ts)
    return model, time.perf_counter() - start


def sindy_simulate(model: Any, x0: np.ndarray, t: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = np.asarray(model.simulate(x0, t), dtype=np.float64)
        except Exception:  # a diverging SINDy model: report it as failed
            return np.full((len(t), len(x0)), np.nan)
    if out.shape[0] != len(t):  # integration stopped early (blow-up)
        pad = np.full((len(t) - out.shape[0], out.shape[1]), np.nan)
        out = np.concatenate([out, pad])
    return out


def run_system(name: str, max_time: float, seed: int) -> dict[str, Any]:
    make, params, target = SYSTEMS[name]
    df, system, horizon = make(seed)
    cols = list(system.state_cols)
    states = df[cols].to_numpy(np.float64)
    per_axis = 40 if len(cols) == 2 else 16
    grid = data_region(states, per_axis)
    wide = data_region(states, per_axis, radius="5%")
    true_field, true_wide = system(grid), system(wide)
    x0 = np.asarray(system.default_initial_state, dtype=np.float64)
    t = np.linspace(0.0, 2.0 * horizon, 401)
    true_path = system.trajectory(x0, t)

    est, seconds = fit_neural(df, params, max_time, seed)
    sim = est.simulate(x0[None], t)[cols].to_numpy(np.float64)
    out: dict[str, Any] = {
        "n_series": int(df["unique_id"].nunique()),
        "n_observations": len(df),
        "horizon": horizon,
        "n_field_points": len(grid),
        "n_field_points_5pct": len(wide),
        "field_error_target": target,
        "neural_ode": {
            "field_error": relative_field_error(est.vector_field(grid), true_field),
            "field_error_5pct": relative_field_error(est.vector_field(wide), true_wide),
            "extrapolation_error": extrapolation_error(sim, true_path, t, horizon),
            "fit_seconds": seconds,
            "epochs": est.n_epochs_,
            "best_epoch": est.best_epoch_,
            "params": {k: v for k, v in est.get_params().items() if k in params or k == "method"},
        },
    }
    try:
        model, sindy_seconds = fit_sindy(df, cols)
    except ImportError:
        out["sindy"] = None
        logging.warning("pysindy is not installed: SINDy baseline skipped")
        return out
    sindy_path = sindy_simulate(model, x0, t)
    out["sindy"] = {
        "field_error": relative_field_error(model.predict(grid), true_field),
        "field_error_5pct": relative_field_error(model.predict(wide), true_wide),
        "extrapolation_error": extrapolation_error(sindy_path, true_path, t, horizon),
        "fit_seconds": sindy_seconds,
        "equations": model.equations(precision=3),
    }
    return out


_FIGURES = ("field_error", "field_error_5pct", "extrapolation_error", "fit_seconds")


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median figures over seeds (``runs``: the results of ``run_system``, one per seed)."""
    first = runs[0]
    out: dict[str, Any] = {
        "n_series": first["n_series"],
        "horizon": first["horizon"],
        "field_error_target": first["field_error_target"],
    }
    for model in ("neural_ode", "sindy"):
        if any(r[model] is None for r in runs):
            out[model] = None
            continue
        out[model] = {k: float(np.median([r[model][k] for r in runs])) for k in _FIGURES}
    out["neural_ode"]["params"] = first["neural_ode"]["params"]
    target = first["field_error_target"]
    if target is not None:
        out["field_error_target_met_seeds"] = sum(
            r["neural_ode"]["field_error"] <= target for r in runs
        )
    if out["sindy"] is not None:
        out["extrapolation_better_than_sindy_seeds"] = sum(
            r["neural_ode"]["extrapolation_error"] < r["sindy"]["extrapolation_error"] for r in runs
        )
    out["per_seed"] = runs
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="data and model seeds"
    )
    parser.add_argument("--max-time", type=float, default=None, help="fit seconds per system")
    parser.add_argument("--systems", nargs="*", default=list(SYSTEMS))
    parser.add_argument("--output", type=Path, default=RESULTS / "dynamics.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    max_time = args.max_time or (10.0 if args.quick else 90.0)
    results: dict[str, Any] = {
        "benchmark": "dynamics",
        "quick": args.quick,
        "seeds": args.seeds,
        "max_fit_seconds": max_time,
        "protocol": "30% of a regular grid, 1% noise; field error on the data region; "
        "extrapolation nRMSE over (T, 2T] from the true initial state; medians over seeds",
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_threads": torch.get_num_threads(),
        },
        "systems": {},
    }
    for name in args.systems:
        runs = []
        for seed in args.seeds:
            start = time.perf_counter()
            r = run_system(name, max_time, seed)
            r["seed"] = seed
            runs.append(r)
            logging.info(
                "%-15s seed %d neural: field %.4f extrap %.4f (%.0f s) | sindy: %s  [%.0f s]",
                name,
                seed,
                r["neural_ode"]["field_error"],
                r["neural_ode"]["extrapolation_error"],
                r["neural_ode"]["fit_seconds"],
                "n/a"
                if r["sindy"] is None
                else f"field {r['sindy']['field_error']:.4f} extrap "
                f"{r['sindy']['extrapolation_error']:.4f}",
                time.perf_counter() - start,
            )
        results["systems"][name] = aggregate(runs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=float))
    return results


if __name__ == "__main__":
    main()
