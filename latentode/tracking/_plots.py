"""Figures logged as run artifacts: training curves, forecasts, phase portraits, densities.

Forecast, phase and density figures come from :mod:`latentode.plotting`; this module only
chooses what to draw for which estimator and prepares the query grid.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from latentode.data import even_times, to_pandas
from latentode.estimators import estimator_task

__all__ = ["close", "figures_for", "task_of", "training_figure"]

_MAX_FEATURES = 4


def task_of(estimator: Any) -> str | None:
    """``"forecast"``, ``"dynamics"``, ``"density"`` or None for another estimator."""
    return estimator_task(estimator)


def figures_for(estimator: Any, data: Any, n_series: int) -> dict[str, Any]:
    """Artifact path → zero-argument function drawing that figure, for a fitted estimator.

    Forecasts need ``data`` (the series to condition on); phase portraits and densities
    are drawn from the model alone (``data``, when given, is drawn on top).
    """
    task = task_of(estimator)
    if task == "forecast" and data is not None:
        features = list(estimator.feature_cols_)[:_MAX_FEATURES]
        return {
            f"plots/forecast_{f}.png": (lambda f=f: forecast_figure(estimator, data, f, n_series))
            for f in features
        }
    if task == "dynamics":
        return {"plots/phase.png": lambda: phase_figure(estimator, data)}
    if task == "density" and int(estimator.n_features_in_) == 2:
        return {"plots/density.png": lambda: density_figure(estimator, data)}
    return {}


def training_figure(history: Sequence[dict[str, Any]]) -> Any:
    """Losses (train / validation) and solver function evaluations per epoch."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax_loss, ax_nfe = fig.subplots(1, 2)
    epochs = [r.get("epoch", i + 1) for i, r in enumerate(history)]
    for ax, keys, title in (
        (ax_loss, ("train_loss", "val_loss"), "loss"),
        (ax_nfe, ("nfe_forward", "nfe_backward"), "function evaluations per batch"),
    ):
        for key in keys:
            if any(key in r for r in history):
                ax.plot(epochs, [r.get(key, np.nan) for r in history], marker=".", label=key)
        ax.set(xlabel="epoch", title=title)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    return fig


def forecast_figure(estimator: Any, data: Any, feature: str, n_series: int) -> Any:
    """Observed points, posterior mean and 90 % band over each series' span + 25 %."""
    from latentode.plotting.forecast import plot_forecast

    frame, at = _series_grid(estimator, data, n_series)
    pred = estimator.predict_interval(frame, at=at, coverage=0.9)
    return plot_forecast(
        frame,
        pred,
        feature=feature,
        id_col=estimator.id_col,
        time_col=estimator.time_col,
        max_series=n_series,
    )


def phase_figure(estimator: Any, data: Any) -> Any:
    """Stream lines of the learned field (and the observed trajectories, if given)."""
    from latentode.plotting.dynamics import plot_phase_portrait

    return plot_phase_portrait(estimator, data, grid_size=20)


def density_figure(estimator: Any, data: Any) -> Any:
    """Density heat map and samples of a 2-feature density estimator."""
    from latentode.plotting.density import plot_density_2d

    x = None if data is None else np.asarray(data, dtype=np.float64)
    with warnings.catch_warnings():
        # The heat-map grid is a plain array; an estimator fitted on a named frame would
        # warn about the missing names once per figure, which says nothing to the user.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return plot_density_2d(estimator, x, n_samples=300, grid_size=40)


def close(figure: Any) -> None:
    """Release a figure (those made through ``pyplot`` stay registered until closed)."""
    import matplotlib.pyplot as plt

    plt.close(figure)


def _series_grid(estimator: Any, data: Any, n_series: int) -> tuple[pd.DataFrame, pd.DataFrame]:
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
        rows.append(pd.DataFrame({id_col: sid, time_col: even_times(start, stop, 80)}))
    return frame, pd.concat(rows, ignore_index=True)
