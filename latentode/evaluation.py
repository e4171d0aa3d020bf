"""Evaluation helpers: hold-out splits of long frames, simple baselines and metrics.

Used by the CLI demo and the benchmarks; they work on pandas long frames.

The real-data protocol (``benchmarks/real.py``): :func:`series_split` (70 / 30 of the
series, fixed seed), then on the test series either :func:`extrapolation_task` (observe
all but the last 20 % of each series' timestamps, predict those) or
:func:`interpolation_task` (hide a random 30 % of the observed values);
:func:`score_forecast` scores any estimator with the forecaster's API on the hidden
values in train-standardised units (each feature divided by its training std), pooled
over held-out values: MSE, MAE, CRPS from samples (``properscoring``), pinball loss and
interval coverage. :func:`last_value_baseline` and :func:`linear_interpolation_baseline`
are kept for the CLI demo; :mod:`latentode.baselines` has the estimators.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "crps_ensemble",
    "extrapolation_split",
    "extrapolation_task",
    "interpolation_split",
    "interpolation_task",
    "interval_coverage",
    "last_value_baseline",
    "linear_interpolation_baseline",
    "mae",
    "masked_mse",
    "pinball_loss",
    "score_forecast",
    "series_split",
]


def interpolation_split(
    df: pd.DataFrame, *, fraction: float = 0.2, id_col: str = "unique_id", random_state: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hide a random ``fraction`` of each series' rows (never its first or last).

    Returns ``(history, held_out)``.
    """
    rng = np.random.default_rng(random_state)
    hide = np.zeros(len(df), dtype=bool)
    for idx in df.groupby(id_col, sort=False).indices.values():
        inner = idx[1:-1]
        k = round(fraction * len(idx))
        if k and len(inner):
            hide[rng.choice(inner, size=min(k, len(inner)), replace=False)] = True
    return df[~hide].reset_index(drop=True), df[hide].reset_index(drop=True)


def extrapolation_split(
    df: pd.DataFrame, *, fraction: float = 0.3, id_col: str = "unique_id", time_col: str = "ds"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut each series at ``1 - fraction`` of its time span: ``(history, future)``."""
    t = df[time_col]
    start = df.groupby(id_col, sort=False)[time_col].transform("min")
    end = df.groupby(id_col, sort=False)[time_col].transform("max")
    cut = start + (end - start) * (1.0 - fraction)
    future = (t > cut).to_numpy()
    return df[~future].reset_index(drop=True), df[future].reset_index(drop=True)


def _numeric_time(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("int64").to_numpy(dtype=np.float64)
    return values.to_numpy(dtype=np.float64)


def linear_interpolation_baseline(
    history: pd.DataFrame,
    query: pd.DataFrame,
    features: list[str],
    *,
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> pd.DataFrame:
    """Per-series linear interpolation of observed values (flat beyond the ends)."""
    out = query[[id_col, time_col]].copy()
    groups = history.groupby(id_col, sort=False)
    for feature in features:
        values = np.full(len(query), np.nan)
        for sid, rows in query.groupby(id_col, sort=False).indices.items():
            h = groups.get_group(sid)
            h = h[h[feature].notna()]
            if len(h):
                values[rows] = np.interp(
                    _numeric_time(query[time_col].iloc[rows]),
                    _numeric_time(h[time_col]),
                    h[feature].to_numpy(dtype=np.float64),
                )
        out[feature] = values
    return out


def last_value_baseline(
    history: pd.DataFrame,
    query: pd.DataFrame,
    features: list[str],
    *,
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> pd.DataFrame:
    """Last observation carried forward, per series and feature."""
    out = query[[id_col, time_col]].copy()
    ordered = history.sort_values([id_col, time_col])
    for feature in features:
        last = ordered.dropna(subset=[feature]).groupby(id_col)[feature].last()
        out[feature] = query[id_col].map(last).to_numpy(dtype=np.float64)
    return out


def masked_mse(pred: pd.DataFrame, truth: pd.DataFrame, features: list[str]) -> float:
    """Mean squared error over the entries observed in ``truth`` (rows aligned)."""
    p = pred[features].to_numpy(dtype=np.float64)
    t = truth[features].to_numpy(dtype=np.float64)
    ok = np.isfinite(t)
    return float(np.mean((p[ok] - t[ok]) ** 2))


# ---------------------------------------------------------------------- real-data protocol
def series_split(
    df: pd.DataFrame,
    *,
    test_fraction: float = 0.3,
    id_col: str = "unique_id",
    random_state: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split whole series at random: ``(train, test)``, ``test_fraction`` of the ids in test."""
    ids = pd.unique(df[id_col])
    rng = np.random.default_rng(random_state)
    n_test = max(1, round(test_fraction * len(ids)))
    test_ids = set(rng.choice(ids, size=n_test, replace=False).tolist())
    is_test = df[id_col].isin(test_ids).to_numpy()
    return df[~is_test].reset_index(drop=True), df[is_test].reset_index(drop=True)


def _features(df: pd.DataFrame, id_col: str, time_col: str) -> list[str]:
    return [c for c in df.columns if c not in (id_col, time_col)]


def extrapolation_task(
    df: pd.DataFrame,
    *,
    fraction: float = 0.2,
    target_cols: list[str] | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hide the last ``fraction`` of each series' timestamps (at least one, never all).

    Returns ``(history, target)``: ``history`` the earlier rows, ``target`` the later rows
    with only ``target_cols`` (default: every feature), rows without an observed target
    dropped. Series of one row stay whole in ``history``.
    """
    df = df.sort_values([id_col, time_col], kind="stable").reset_index(drop=True)
    targets = target_cols or _features(df, id_col, time_col)
    pos = df.groupby(id_col, sort=False).cumcount().to_numpy()
    n = df.groupby(id_col, sort=False)[time_col].transform("size").to_numpy()
    k = np.maximum(1, np.round(fraction * n)).astype(int)
    future = (n >= 2) & (pos >= n - k)
    target = df.loc[future, [id_col, time_col, *targets]].dropna(subset=targets, how="all")
    return df[~future].reset_index(drop=True), target.reset_index(drop=True)


def interpolation_task(
    df: pd.DataFrame,
    *,
    fraction: float = 0.3,
    target_cols: list[str] | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    random_state: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hide a random ``fraction`` of each series' observed ``target_cols`` values.

    Every series keeps at least one observed value. Returns ``(history, target)``:
    ``history`` with hidden values set to NaN (rows left without any value dropped),
    ``target`` the rows with a hidden value, holding only the hidden ``target_cols``
    values (the others NaN).
    """
    df = df.sort_values([id_col, time_col], kind="stable").reset_index(drop=True)
    features = _features(df, id_col, time_col)
    targets = target_cols or features
    rng = np.random.default_rng(random_state)
    values = df[targets].to_numpy(dtype=np.float64)
    observed_any = df[features].notna().to_numpy()
    hidden = np.zeros(values.shape, dtype=bool)
    for rows in df.groupby(id_col, sort=False).indices.values():
        r, c = np.nonzero(~np.isnan(values[rows]))
        n_obs = int(observed_any[rows].sum())
        n_hide = min(round(fraction * r.size), n_obs - 1)
        if n_hide >= 1:
            pick = rng.choice(r.size, size=n_hide, replace=False)
            hidden[rows[r[pick]], c[pick]] = True
    history = df.copy()
    history[targets] = np.where(hidden, np.nan, values)
    history = history.dropna(subset=features, how="all").reset_index(drop=True)
    rows = hidden.any(axis=1)
    target = df.loc[rows, [id_col, time_col]].copy()
    target[targets] = np.where(hidden[rows], values[rows], np.nan)
    return history, target.reset_index(drop=True)


def mae(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error over the finite entries of ``truth``."""
    ok = np.isfinite(truth)
    return float(np.mean(np.abs(np.asarray(pred)[ok] - truth[ok])))


def crps_ensemble(samples: np.ndarray, truth: np.ndarray) -> float:
    """Mean CRPS of ``truth (n,)`` under ensembles ``samples (n_samples, n)``
    (``properscoring.crps_ensemble``), over the finite entries of ``truth``."""
    import properscoring

    ok = np.isfinite(truth)
    return float(np.mean(properscoring.crps_ensemble(truth[ok], samples[:, ok].T)))


def pinball_loss(quantile: np.ndarray, truth: np.ndarray, level: float) -> float:
    """Mean pinball (quantile) loss of a ``level`` quantile forecast."""
    ok = np.isfinite(truth)
    diff = truth[ok] - np.asarray(quantile)[ok]
    return float(np.mean(np.maximum(level * diff, (level - 1.0) * diff)))


def interval_coverage(lower: np.ndarray, upper: np.ndarray, truth: np.ndarray) -> float:
    """Share of the finite ``truth`` values inside ``[lower, upper]``."""
    ok = np.isfinite(truth)
    y = truth[ok]
    return float(np.mean((np.asarray(lower)[ok] <= y) & (y <= np.asarray(upper)[ok])))


def score_forecast(
    est: object,
    history: pd.DataFrame,
    target: pd.DataFrame,
    scale: dict[str, float],
    *,
    n_samples: int = 100,
    coverage: float = 0.8,
    alpha: tuple[float, ...] = (0.1, 0.5, 0.9),
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> dict[str, float]:
    """Score a fitted estimator on the hidden values of a task.

    ``est`` has the :class:`~latentode.LatentODEForecaster` API (``predict``,
    ``predict_interval``, ``predict_quantiles``, ``sample``). Every target feature is
    divided by ``scale[feature]`` (its training std) and the scores are pooled over all
    hidden values: ``mse``, ``mae``, ``crps`` (``n_samples`` draws), ``pinball`` (mean
    over ``alpha``), ``coverage`` (of the central ``coverage`` interval), ``n``.
    """
    features = [c for c in target.columns if c not in (id_col, time_col)]
    at = target[[id_col, time_col]]
    point = est.predict(history, at=at)
    band = est.predict_interval(history, at=at, coverage=coverage)
    quant = est.predict_quantiles(history, at=at, alpha=list(alpha))
    draws = est.sample(history, at=at, n_samples=n_samples)
    n_rows = len(target)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("y", "p", "lo", "hi", "s", *alpha)}
    for f in features:
        s = float(scale[f])
        cols["y"].append(target[f].to_numpy(np.float64) / s)
        cols["p"].append(np.asarray(point[f], dtype=np.float64) / s)
        cols["lo"].append(np.asarray(band[f"{f}_lower"], dtype=np.float64) / s)
        cols["hi"].append(np.asarray(band[f"{f}_upper"], dtype=np.float64) / s)
        cols["s"].append(np.asarray(draws[f], dtype=np.float64).reshape(n_samples, n_rows) / s)
        for a in alpha:
            cols[a].append(np.asarray(quant[f"{f}_q{a:g}"], dtype=np.float64) / s)
    y = np.concatenate(cols["y"])
    p = np.concatenate(cols["p"])
    return {
        "mse": float(np.mean((p - y)[np.isfinite(y)] ** 2)),
        "mae": mae(p, y),
        "crps": crps_ensemble(np.concatenate(cols["s"], axis=1), y),
        "pinball": float(np.mean([pinball_loss(np.concatenate(cols[a]), y, a) for a in alpha])),
        "coverage": interval_coverage(np.concatenate(cols["lo"]), np.concatenate(cols["hi"]), y),
        "n": int(np.isfinite(y).sum()),
    }
