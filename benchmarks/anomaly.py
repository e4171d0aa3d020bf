"""Which series are unlike the rest? Anomaly scores of whole series, against baselines.

Protocol
--------
For each set, the series are split 70 / 30 (seed 0). Every method is fitted on the
training series only (all normal). For each anomaly type, 5 % of the test series (at least
4) are altered and every test series is scored; AUROC and average precision say how well
the scores rank the altered series above the normal ones. Anomaly types (``inject``):

* ``amplitude``: each feature's deviations from the series mean doubled;
* ``level_shift``: 1.5 training standard deviations added from the series' midpoint on;
* ``drift``: a ramp from 0 to 2 training standard deviations over the series (a sensor
  drifting);
* ``reversed``: the values in reverse time order (a phase change for periodic series);
* ``frequency`` (``periodic`` only): the series drawn with frequencies in (1.2, 1.6)
  instead of (0.4, 0.8), on the same times;
* ``swapped`` (sets with two or more features): the first two features exchanged (in
  training-standardised units).

Methods (higher score = more anomalous):

* ``latent_ode_obs``: minus ``LatentODEForecaster.score_samples(per="observation")``
  of the defaults (the anchored head's cross-fitted predictive score per observed value,
  so long and short series compare: each half of a series' observations scored given
  the other half);
* ``latent_ode_series``: minus ``score_samples(per="series")``;
* ``latent_ode_joint_obs``: as ``latent_ode_obs`` with ``kind="joint"`` (the IWAE bound
  of all the values at once, which the anchored head reads while scoring them);
* ``gaussian_head_obs``: as ``latent_ode_obs`` for ``observation="gaussian"`` (the default
  anchored head reads each value's neighbours, which an altered series also carries);
* ``ffjord_z0``: minus ``FFJORDDensity.score_samples`` of the posterior means
  ``transform(df)``, the density fitted on the training series' means;
* ``combined``: minus :class:`~latentode.SeriesAnomalyDetector` ``.score_samples`` on the
  same model and flow: the larger of ``latent_ode_obs`` and ``ffjord_z0``, each in robust
  standard units of the training series' own scores (the flow's cross-fitted on halves of
  the training series): the predictive score
  sees values unlike their neighbours' prediction, the posterior's density dynamics unlike
  the training series' (swapped features, time reversed);
* ``iforest``, ``gmm``: ``IsolationForest`` and a BIC-chosen ``GaussianMixture`` on
  per-series summary features (per feature: mean, std, min, max, first, last, least-squares
  slope; and the number of observations).

Run: ``python benchmarks/anomaly.py`` (``--quick``: shorter fits, about 5 minutes; writes
``benchmarks/results/anomaly.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from latentode import FFJORDDensity, LatentODEForecaster, SeriesAnomalyDetector
from latentode.datasets import load_pbcseq, make_lotka_volterra, make_periodic
from latentode.evaluation import series_split

RESULTS = Path(__file__).resolve().parent / "results"
ID, TIME = "unique_id", "ds"


def _periodic() -> pd.DataFrame:
    return make_periodic(n_series=600, n_points=40, observed_fraction=0.6, random_state=0)


def _frequency(test: pd.DataFrame, ids: list) -> pd.DataFrame:
    """The ``ids`` of a periodic test frame redrawn at higher frequencies, same times."""
    rng = np.random.default_rng(1)
    out = test.copy()
    for sid in ids:
        rows = out[ID] == sid
        t = out.loc[rows, TIME].to_numpy()
        f = rng.uniform(1.2, 1.6)
        c = 1 + 0.1 * rng.normal()
        out.loc[rows, "y"] = np.sin(2 * np.pi * f * t) + c + 0.01 * rng.uniform(size=t.size)
    return out


SETS: dict[str, Callable[[], pd.DataFrame]] = {
    "periodic": _periodic,
    "lotka_volterra": lambda: make_lotka_volterra(n_series=400, n_points=40, random_state=0),
    "pbcseq": lambda: load_pbcseq().frame,
}


def features_of(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in (ID, TIME)]


def inject(
    kind: str, test: pd.DataFrame, ids: list, scale: dict[str, float], set_name: str
) -> pd.DataFrame:
    """``test`` with the series ``ids`` altered by anomaly ``kind``."""
    if kind == "frequency":
        return _frequency(test, ids)
    out = test.copy()
    feats = features_of(test)
    for sid in ids:
        rows = np.flatnonzero((out[ID] == sid).to_numpy())
        t = out[TIME].to_numpy(np.float64)[rows]
        span = max(float(t.max() - t.min()), 1e-12)
        for f in feats:
            x = out[f].to_numpy(np.float64)[rows]
            if kind == "amplitude":
                x = np.nanmean(x) + 2.0 * (x - np.nanmean(x))
            elif kind == "level_shift":
                x = x + np.where(t >= t.min() + span / 2, 1.5 * scale[f], 0.0)
            elif kind == "drift":
                x = x + 2.0 * scale[f] * (t - t.min()) / span
            elif kind == "reversed":
                x = x[::-1]
            out.iloc[rows, out.columns.get_loc(f)] = x
        if kind == "swapped":
            a, b = feats[0], feats[1]
            xa = out[a].to_numpy(np.float64)[rows]
            xb = out[b].to_numpy(np.float64)[rows]
            mean_a, mean_b = scale[f"mean:{a}"], scale[f"mean:{b}"]
            out.iloc[rows, out.columns.get_loc(a)] = mean_a + (xb - mean_b) / scale[b] * scale[a]
            out.iloc[rows, out.columns.get_loc(b)] = mean_b + (xa - mean_a) / scale[a] * scale[b]
    return out


def kinds_for(set_name: str, df: pd.DataFrame) -> list[str]:
    kinds = ["amplitude", "level_shift", "drift", "reversed"]
    if set_name == "periodic":
        kinds.append("frequency")
    if len(features_of(df)) >= 2:
        kinds.append("swapped")
    return kinds


def summary_features(df: pd.DataFrame, fill: np.ndarray | None = None) -> np.ndarray:
    """Per-series summary features (rows in the order series first appear)."""
    rows = []
    for _, g in df.groupby(ID, sort=False):
        t = g[TIME].to_numpy(np.float64)
        row = []
        for f in features_of(df):
            x = g[f].to_numpy(np.float64)
            ok = np.isfinite(x)
            if ok.sum() == 0:
                row += [np.nan] * 7
                continue
            xs, ts = x[ok], t[ok]
            slope = np.polyfit(ts, xs, 1)[0] if ok.sum() >= 2 and np.ptp(ts) > 0 else 0.0
            row += [xs.mean(), xs.std(), xs.min(), xs.max(), xs[0], xs[-1], slope]
        row.append(float(len(g)))
        rows.append(row)
    out = np.asarray(rows, dtype=np.float64)
    if fill is not None:
        out = np.where(np.isfinite(out), out, fill)
    return out


def fit_methods(train: pd.DataFrame, seconds: float, seed: int, params: dict | None = None) -> dict:
    est = LatentODEForecaster(max_time=seconds, random_state=seed, n_threads=1, **(params or {}))
    t0 = time.perf_counter()
    est.fit(train)
    fit_s = time.perf_counter() - t0
    gaussian = LatentODEForecaster(
        observation="gaussian", max_time=seconds, random_state=seed, n_threads=1
    ).fit(train)
    # combined: the library's fusion of latent_ode_obs and ffjord_z0 on this model; its
    # density of the training series' posterior means is ffjord_z0's
    detector = SeriesAnomalyDetector(
        est,
        FFJORDDensity(max_time=seconds / 4, random_state=seed, n_threads=1),
        prefit=True,
        random_state=seed,
    ).fit(train)
    flow = detector.density_
    summ = summary_features(train)
    fill = np.nanmean(summ, axis=0)
    summ = np.where(np.isfinite(summ), summ, fill)
    scaler = StandardScaler().fit(summ)
    s_train = scaler.transform(summ)
    forest = IsolationForest(n_estimators=300, random_state=seed).fit(s_train)
    gmms = [
        GaussianMixture(k, covariance_type="full", random_state=seed, reg_covar=1e-3).fit(s_train)
        for k in range(1, 6)
    ]
    gmm = min(gmms, key=lambda m: m.bic(s_train))
    return {
        "est": est,
        "gaussian": gaussian,
        "flow": flow,
        "detector": detector,
        "fill": fill,
        "scaler": scaler,
        "forest": forest,
        "gmm": gmm,
        "fit_s": fit_s,
    }


def scores_of(m: dict, test: pd.DataFrame) -> dict[str, np.ndarray]:
    s_test = m["scaler"].transform(summary_features(test, m["fill"]))
    out = {
        "latent_ode_obs": -m["est"].score_samples(test, per="observation"),
        "latent_ode_series": -m["est"].score_samples(test, per="series"),
        "latent_ode_joint_obs": -m["est"].score_samples(test, per="observation", kind="joint"),
        "gaussian_head_obs": -m["gaussian"].score_samples(test, per="observation"),
        "ffjord_z0": -m["flow"].score_samples(m["est"].transform(test)),
        "iforest": -m["forest"].score_samples(s_test),
        "gmm": -m["gmm"].score_samples(s_test),
    }
    out["combined"] = -m["detector"].score_samples(test)
    return out


def run_set(name: str, seconds: float, seed: int, params: dict | None = None) -> dict:
    df = SETS[name]()
    train, test = series_split(df, test_fraction=0.3, random_state=seed)
    feats = features_of(df)
    scale: dict[str, float] = {}
    for f in feats:
        x = train[f].to_numpy(np.float64)
        scale[f] = float(np.nanstd(x)) or 1.0
        scale[f"mean:{f}"] = float(np.nanmean(x))
    fitted = fit_methods(train, seconds, seed, params)
    test_ids = list(pd.unique(test[ID]))
    n_anom = max(4, round(0.05 * len(test_ids)))
    rng = np.random.default_rng(seed)
    out: dict = {
        "n_train_series": int(train[ID].nunique()),
        "n_test_series": len(test_ids),
        "n_anomalous": n_anom,
        "fit_s": fitted["fit_s"],
        "types": {},
    }
    for kind in kinds_for(name, df):
        ids = list(rng.choice(np.asarray(test_ids, dtype=object), size=n_anom, replace=False))
        altered = inject(kind, test, ids, scale, name)
        labels = np.isin(np.asarray(test_ids, dtype=object), np.asarray(ids, dtype=object))
        row = {}
        for method, score in scores_of(fitted, altered).items():
            score = np.nan_to_num(score, nan=np.inf, posinf=1e300, neginf=-1e300)
            row[method] = {
                "auroc": float(roc_auc_score(labels, score)),
                "ap": float(average_precision_score(labels, score)),
            }
        out["types"][kind] = row
        print(
            f"{name:15s} {kind:12s} " + " ".join(f"{k}={v['auroc']:.3f}" for k, v in row.items()),
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 s fits")
    parser.add_argument("--seconds", type=float, default=None, help="Latent ODE fit budget")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "anomaly.json")
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        help="JSON of overrides for the (anchored) Latent ODE, e.g. '{\"latent_weight\": 0}'",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    seconds = args.seconds or (40.0 if args.quick else 180.0)
    result: dict = {
        "protocol": "70/30 series split, fit on normal training series; 5 % (>= 4) of the "
        "test series altered per anomaly type; AUROC / average precision of the scores",
        "seconds": seconds,
        "quick": args.quick,
        "params": args.params,
        "seed": args.seed,
        "machine": platform.platform(),
        "sets": {},
    }
    for name in args.sets:
        result["sets"][name] = run_set(name, seconds, args.seed, args.params)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
