"""Figures logged as run artifacts: training curves, forecasts, phase portraits, densities.

Built on :class:`matplotlib.figure.Figure` directly (no pyplot state, no GUI backend).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from latentode.data import to_pandas

__all__ = ["density_figure", "forecast_figure", "phase_figure", "task_of", "training_figure"]

_TASKS = {
    "LatentODEForecaster": "forecast",
    "NeuralODEDynamics": "dynamics",
    "FFJORDDensity": "density",
}


def task_of(estimator: Any) -> str | None:
    """``"forecast"``, ``"dynamics"``, ``"density"`` or None for another estimator."""
    return _TASKS.get(type(estimator).__name__)


def training_figure(history: Sequence[dict[str, Any]]) -> Any:
    """Losses (train / validation) and solver function evaluations per epoch."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax_loss, ax_nfe = fig.subplots(1, 2)
    epochs = [r.get("epoch", i + 1) for i, r in enumerate(history)]
    for key in ("train_loss", "val_loss"):
        if any(key in r for r in history):
            ax_loss.plot(epochs, [r.get(key, np.nan) for r in history], label=key)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    for key in ("nfe_forward", "nfe_backward"):
        if any(key in r for r in history):
            ax_nfe.plot(epochs, [r.get(key, np.nan) for r in history], label=key)
    ax_nfe.set(xlabel="epoch", ylabel="evaluations per batch", title="NFE")
    for ax in (ax_loss, ax_nfe):
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    return fig


def forecast_figure(estimator: Any, data: Any, n_series: int = 4) -> Any:
    """Observed points, posterior mean and 90 % interval over each series' span + 25 %."""
    from matplotlib.figure import Figure

    frame, at, ids = _series_grid(estimator, data, n_series)
    pred = to_pandas(estimator.predict_interval(frame, at=at, coverage=0.9))
    features = list(estimator.feature_cols_)
    fig = Figure(figsize=(4 * len(features), 2.6 * len(ids)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(ids), len(features), squeeze=False))
    id_col, time_col = estimator.id_col, estimator.time_col
    for i, sid in enumerate(ids):
        obs = frame[frame[id_col] == sid]
        p = pred[pred[id_col] == sid]
        for j, f in enumerate(features):
            ax = axes[i, j]
            ax.fill_between(p[time_col], p[f"{f}_lower"], p[f"{f}_upper"], alpha=0.25)
            ax.plot(p[time_col], p[f], label="mean")
            ax.scatter(obs[time_col], obs[f], s=10, color="black", label="observed")
            ax.set_title(f"{sid} · {f}", fontsize=9)
    axes[0, 0].legend(fontsize=8)
    return fig


def phase_figure(estimator: Any, data: Any, n_series: int = 4) -> Any:
    """Predicted trajectories in the plane of the first two state columns."""
    from matplotlib.figure import Figure

    frame, at, ids = _series_grid(estimator, data, n_series)
    pred = to_pandas(estimator.predict(frame, at=at))
    features = list(estimator.feature_cols_)
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    x, y = (features[0], features[1]) if len(features) > 1 else (estimator.time_col, features[0])
    for sid in ids:
        p = pred[pred[estimator.id_col] == sid]
        obs = frame[frame[estimator.id_col] == sid]
        (line,) = ax.plot(p[x], p[y], label=str(sid))
        ax.scatter(obs[x], obs[y], s=10, color=line.get_color())
    ax.set(xlabel=x, ylabel=y, title="phase portrait")
    ax.legend(fontsize=8)
    return fig


def density_figure(estimator: Any, n_samples: int = 500) -> Any:
    """Samples and (in 2-D) log-density contours of a density estimator."""
    from matplotlib.figure import Figure

    samples = np.asarray(estimator.sample(n_samples), dtype=np.float64)
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    if samples.shape[1] == 2:
        lo, hi = np.quantile(samples, [0.005, 0.995], axis=0)
        pad = 0.1 * (hi - lo)
        gx, gy = np.meshgrid(
            np.linspace(lo[0] - pad[0], hi[0] + pad[0], 60),
            np.linspace(lo[1] - pad[1], hi[1] + pad[1], 60),
        )
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        logp = np.asarray(estimator.score_samples(grid), dtype=np.float64).reshape(gx.shape)
        ax.contourf(gx, gy, logp, levels=20, cmap="viridis")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, color="white" if samples.shape[1] == 2 else None)
    ax.set(title="density", xlabel="x0", ylabel="x1" if samples.shape[1] > 1 else "")
    return fig


def _series_grid(
    estimator: Any, data: Any, n_series: int
) -> tuple[pd.DataFrame, pd.DataFrame, list[Any]]:
    """The first ``n_series`` series of ``data`` and 80 query times over span + 25 %."""
    frame = to_pandas(data)
    id_col, time_col = estimator.id_col, estimator.time_col
    ids = list(pd.unique(frame[id_col]))[: max(1, int(n_series))]
    frame = frame[frame[id_col].isin(ids)].reset_index(drop=True)
    rows = []
    for sid in ids:
        t = frame.loc[frame[id_col] == sid, time_col]
        start, end = t.min(), t.max()
        stop = end + (end - start) * 0.25
        if pd.api.types.is_datetime64_any_dtype(t):
            grid = pd.date_range(start, stop, periods=80)
        else:
            grid = np.linspace(float(start), float(stop), 80)
        rows.append(pd.DataFrame({id_col: sid, time_col: grid}))
    return frame, pd.concat(rows, ignore_index=True), ids
