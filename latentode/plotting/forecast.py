"""Forecast figure: observed points, predictive mean and a central band per series.

The figure is built with :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state,
the backend left as it is); save it with ``fig.savefig`` or show it in a notebook.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from latentode.data import to_pandas

__all__ = ["plot_forecast"]


def plot_forecast(
    history: Any,
    forecast: Any,
    *,
    feature: str,
    id_col: str = "unique_id",
    time_col: str = "ds",
    series: Sequence[Any] | None = None,
    max_series: int = 6,
    truth: Any = None,
    title: str | None = None,
) -> Figure:
    """Draw observed points, the forecast mean and its band for a few series.

    Parameters
    ----------
    history : long frame
        Observed rows (pandas or polars).
    forecast : long frame
        Output of ``predict_interval`` (columns ``feature``, ``feature_lower``,
        ``feature_upper``) or of ``predict`` (mean only).
    feature : str
        Feature column to draw.
    series : sequence, optional
        Series ids to draw (default: the first ``max_series`` of ``forecast``).
    truth : long frame, optional
        Held-out rows drawn as hollow markers.

    Returns
    -------
    matplotlib.figure.Figure
    """
    hist, fc = to_pandas(history), to_pandas(forecast)
    ids = list(series) if series is not None else list(fc[id_col].unique()[:max_series])
    n = max(len(ids), 1)
    ncols = min(3, n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(4.2 * ncols, 2.8 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    lower, upper = f"{feature}_lower", f"{feature}_upper"
    for ax, sid in zip(axes.ravel(), ids):
        h = hist[hist[id_col] == sid]
        f = fc[fc[id_col] == sid].sort_values(time_col)
        if lower in f and upper in f:
            ax.fill_between(
                f[time_col],
                f[lower],
                f[upper],
                alpha=0.25,
                color="C0",
                lw=0,
                label="predictive band",
            )
        ax.plot(f[time_col], f[feature], color="C0", lw=1.5, label="mean")
        ax.plot(h[time_col], h[feature], "k.", ms=4, label="observed")
        if truth is not None:
            t = to_pandas(truth)
            t = t[t[id_col] == sid]
            ax.plot(t[time_col], t[feature], "o", mfc="none", mec="C3", ms=4, label="held out")
        ax.set_title(str(sid), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(ids) :]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=7, loc="best")
    fig.suptitle(title or f"{feature}: forecast", fontsize=10)
    fig.tight_layout()
    return fig
