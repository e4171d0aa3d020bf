"""Evaluation helpers: hold-out splits of long frames, simple baselines and metrics.

Used by the CLI demo and the benchmarks; they work on pandas long frames.

The real-data protocol (``benchmarks/real.py``): :func:`series_split` (70 / 30 of the
series, fixed seed), then on the test series either :func:`extrapolation_task` (observe
all but the last 20 % of each series' timestamps, predict those) or
:func:`interpolation_task` (hide a random 30 % of the observed values);
:func:`score_forecast` scores any estimator with the forecaster's API on the hidden
values in train-standardised units (each feature divided by its training std), pooled
over held-out values: MSE, MAE, CRPS from samples (``properscoring``), pinball loss and
interval coverage; :data:`latentode.datasets.REAL_SETS` names the real sets it runs on.
:func:`last_value_baseline` and :func:`linear_interpolation_baseline` are plain frame
helpers; :mod:`latentode.baselines` has the estimators the demo and benchmarks use.

Model selection: :class:`SeriesKFold` splits a long frame into folds of whole series (a
series' rows never straddle train and test), and :func:`forecast_scorer` scores each test
fold as a forecast (hide the end or a random part of each series, predict it, return the
negated CRPS, MSE, ...) — together they let ``GridSearchCV`` choose settings by forecast
quality instead of by the training objective::

    from sklearn.model_selection import GridSearchCV
    search = GridSearchCV(LatentODEForecaster(max_epochs=50), {"latent_dim": [4, 8]},
                          cv=SeriesKFold(3), scoring=forecast_scorer("extrapolation"))
    search.fit(df)          # no ``groups=``: the folds read the id column
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from latentode.exceptions import ParameterError

__all__ = [
    "SeriesKFold",
    "crps_ensemble",
    "extrapolation_split",
    "extrapolation_task",
    "forecast_scorer",
    "holdout_tasks",
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
    known_cols: list[str] | tuple[str, ...] = (),
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hide the last ``fraction`` of each series' timestamps (at least one, never all).

    Returns ``(history, target)``: ``history`` the earlier rows, ``target`` the later rows
    with only ``target_cols`` (default: every feature but ``known_cols``), rows without an
    observed target dropped. Series of one row stay whole in ``history``. ``known_cols``
    are covariates known ahead (a planned infusion rate): the later rows stay in
    ``history`` with those columns only (every other column NaN).
    """
    df = df.sort_values([id_col, time_col], kind="stable").reset_index(drop=True)
    known = list(known_cols)
    targets = target_cols or [c for c in _features(df, id_col, time_col) if c not in known]
    pos = df.groupby(id_col, sort=False).cumcount().to_numpy()
    n = df.groupby(id_col, sort=False)[time_col].transform("size").to_numpy()
    k = np.maximum(1, np.round(fraction * n)).astype(int)
    future = (n >= 2) & (pos >= n - k)
    target = df.loc[future, [id_col, time_col, *targets]].dropna(subset=targets, how="all")
    history = df[~future]
    if known:
        ahead = df[future].copy()
        unknown = [c for c in _features(df, id_col, time_col) if c not in known]
        ahead[unknown] = np.nan
        ahead = ahead.dropna(subset=known, how="all")
        history = pd.concat([history, ahead]).sort_values([id_col, time_col], kind="stable")
    return history.reset_index(drop=True), target.reset_index(drop=True)


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


def holdout_tasks(
    df: pd.DataFrame,
    *,
    target_cols: list[str] | None = None,
    known_cols: list[str] | tuple[str, ...] = (),
    random_state: int = 0,
) -> tuple[pd.DataFrame, dict[str, tuple[pd.DataFrame, pd.DataFrame]], dict[str, float]]:
    """The real-data protocol (``benchmarks/real.py``, ``latentode demo``) on one frame.

    Whole series split 70 / 30 (:func:`series_split`); on the test series the tasks
    ``"extrapolation"`` (each series' last 20 % of timestamps hidden; the ``known_cols``,
    covariates known ahead, stay in the history there) and ``"interpolation"`` (a random
    30 % of its ``target_cols`` values hidden). Returns ``(train, {task: (history,
    target)}, scale)`` with ``scale`` each target column's training standard deviation,
    the units :func:`score_forecast` scores in.
    """
    for what, cols in (("target", target_cols), ("known covariate", known_cols)):
        missing = sorted(set(cols or ()) - set(df.columns))
        if missing:
            raise ParameterError(
                f"Expected the {what} column(s) {missing} in the frame; it has {list(df.columns)}."
            )
    train, test = series_split(df, test_fraction=0.3, random_state=random_state)
    targets = target_cols or [c for c in _features(df, "unique_id", "ds") if c not in known_cols]
    scale = {f: float(np.nanstd(train[f].to_numpy(np.float64))) for f in targets}
    tasks = {
        "extrapolation": extrapolation_task(
            test, fraction=0.2, target_cols=targets, known_cols=known_cols
        ),
        "interpolation": interpolation_task(
            test, fraction=0.3, target_cols=targets, random_state=random_state
        ),
    }
    return train, tasks, scale


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


# ---------------------------------------------------------------------- model selection
class SeriesKFold:
    """K-fold cross-validation over whole series of a long frame.

    Every row of a series falls in the same fold, so a model is never scored on a series it
    was fitted on (row-wise ``KFold`` would put the same series on both sides and reward
    memorising it). The ids are read from ``X[id_col]`` — pandas or polars — so
    ``GridSearchCV(..., cv=SeriesKFold(5))`` needs no ``groups=``; it equals
    ``GroupKFold`` given the ids, with shuffled, near-equal folds of series.

    Parameters
    ----------
    n_splits : int, default=5
        Folds; at most the number of series.
    id_col : str, default="unique_id"
    shuffle : bool, default=True
        Assign series to folds at random (``random_state``) instead of in order of first
        appearance.
    random_state : int, default=0
    """

    def __init__(
        self,
        n_splits: int = 5,
        *,
        id_col: str = "unique_id",
        shuffle: bool = True,
        random_state: int | None = 0,
    ) -> None:
        if not isinstance(n_splits, int) or isinstance(n_splits, bool) or n_splits < 2:
            raise ParameterError(f"'n_splits' must be an int >= 2. Got {n_splits!r}.")
        self.n_splits = n_splits
        self.id_col = id_col
        self.shuffle = shuffle
        self.random_state = random_state

    def __repr__(self) -> str:
        return (
            f"SeriesKFold(n_splits={self.n_splits}, id_col={self.id_col!r}, "
            f"shuffle={self.shuffle}, random_state={self.random_state})"
        )

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return self.n_splits

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_rows, test_rows)`` positions, whole series on each side."""
        if self.id_col not in getattr(X, "columns", ()):
            raise ParameterError(
                f"SeriesKFold splits a long frame by its id column {self.id_col!r}, which X "
                f"does not have (columns: {list(getattr(X, 'columns', []))}). Pass "
                "SeriesKFold(id_col=...)."
            )
        ids = np.asarray(X[self.id_col])
        unique, codes = np.unique(ids.astype(str), return_inverse=True)
        if len(unique) < self.n_splits:
            raise ParameterError(
                f"SeriesKFold(n_splits={self.n_splits}) needs at least {self.n_splits} "
                f"series; X has {len(unique)}."
            )
        if self.shuffle:
            order = np.random.default_rng(self.random_state).permutation(len(unique))
        else:
            order = _first_appearance(codes, len(unique))
        rows = np.arange(len(ids))
        for fold in np.array_split(order, self.n_splits):
            test = np.isin(codes, fold)
            yield rows[~test], rows[test]


def _first_appearance(codes: np.ndarray, n: int) -> np.ndarray:
    first = np.full(n, len(codes))
    np.minimum.at(first, codes, np.arange(len(codes)))
    return np.argsort(first, kind="stable")


_METRICS = {"crps", "mse", "mae", "pinball", "coverage"}


def forecast_scorer(
    task: str = "extrapolation",
    metric: str = "crps",
    *,
    fraction: float | None = None,
    n_samples: int = 50,
    coverage: float = 0.8,
    random_state: int = 0,
) -> Callable[..., float]:
    """A scikit-learn scorer ``scorer(estimator, X, y=None)`` that scores a forecast.

    On each test fold ``X`` it hides the last ``fraction`` of each series' timestamps
    (``"extrapolation"``, default 0.2) or a random ``fraction`` of its values
    (``"interpolation"``, default 0.3), forecasts them from the rest with the fitted
    estimator (forecaster or baseline) and returns the **negated** ``metric`` in units
    of each feature's standard deviation on the fold (greater is better, as ``GridSearchCV``
    expects): ``crps`` (``n_samples`` draws), ``mse``, ``mae``, ``pinball`` (levels 0.1, 0.5,
    0.9), or ``coverage`` (minus the distance of the central ``coverage`` interval's
    coverage from its level).
    """
    if task not in ("extrapolation", "interpolation"):
        raise ParameterError(f"'task' must be 'extrapolation' or 'interpolation'. Got {task!r}.")
    if metric not in _METRICS:
        raise ParameterError(f"'metric' must be one of {sorted(_METRICS)}. Got {metric!r}.")
    share = fraction if fraction is not None else (0.2 if task == "extrapolation" else 0.3)
    if not 0.0 < share < 1.0:
        raise ParameterError(f"'fraction' must be in (0, 1). Got {fraction!r}.")

    def scorer(estimator: Any, X: Any, y: Any = None) -> float:
        from latentode.data import to_pandas

        id_col = getattr(estimator, "id_col", "unique_id")
        time_col = getattr(estimator, "time_col", "ds")
        df = to_pandas(X)
        features = list(getattr(estimator, "feature_cols_", _features(df, id_col, time_col)))
        frame = df  # static covariate columns stay in the history
        if task == "extrapolation":
            history, target = extrapolation_task(
                frame, fraction=share, target_cols=features, id_col=id_col, time_col=time_col
            )
        else:
            history, target = interpolation_task(
                frame,
                fraction=share,
                target_cols=features,
                random_state=random_state,
                id_col=id_col,
                time_col=time_col,
            )
        if target.empty:
            raise ParameterError(
                f"forecast_scorer({task!r}) found nothing to hide in this fold (every series "
                "has one row?): use longer series or another task."
            )
        std = frame[features].std().replace(0.0, 1.0).fillna(1.0)
        scores = score_forecast(
            estimator,
            history,
            target,
            {f: float(std[f]) for f in features},
            n_samples=n_samples,
            coverage=coverage,
            id_col=id_col,
            time_col=time_col,
        )
        if metric == "coverage":
            return -abs(scores["coverage"] - coverage)
        return -float(scores[metric])

    scorer.__name__ = f"forecast_scorer_{task}_{metric}"
    return scorer
