"""Heat map and samples of a fitted 2-D density (e.g. :class:`~latentode.FFJORDDensity`).

Figures are built with :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state), so
they work under any backend, including ``Agg`` on a headless machine; save them with
``fig.savefig(path)`` or display them in a notebook.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from latentode.exceptions import ParameterError

__all__ = ["plot_density_2d"]


def _bounds(estimator: Any, X: np.ndarray | None, bounds: Any) -> np.ndarray:
    if bounds is not None:
        out = np.asarray(bounds, dtype=np.float64)
        if out.shape != (2, 2) or not (out[:, 0] < out[:, 1]).all():
            raise ParameterError(
                "'bounds' must be ((x_min, x_max), (y_min, y_max)) with min < max. "
                f"Got {bounds!r} instead."
            )
        return out
    if X is not None:
        lo, hi = X.min(axis=0), X.max(axis=0)
        margin = 0.1 * (hi - lo) + 1e-9
        return np.stack([lo - margin, hi + margin], axis=1)
    mean, scale = np.asarray(estimator.mean_), np.asarray(estimator.scale_)
    return np.stack([mean - 3 * scale, mean + 3 * scale], axis=1)


def plot_density_2d(
    estimator: Any,
    X: Any = None,
    *,
    n_samples: int = 1000,
    grid_size: int = 150,
    bounds: Sequence[Sequence[float]] | None = None,
    log_scale: bool = False,
    random_state: int | None = 0,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Two panels: the density on a grid (heat map) and samples drawn from the model.

    Parameters
    ----------
    estimator : fitted density estimator on 2 features
        Anything with ``score_samples(X) -> log-density`` and ``sample(n, random_state=)``
        (``FFJORDDensity``; also scikit-learn's ``KernelDensity``).
    X : array-like of shape (n, 2), optional
        Data drawn in grey under the samples (and used to size the region).
    n_samples : int, default=1000
        Samples drawn in the second panel (0: no samples panel).
    grid_size : int, default=150
        Grid points per axis of the heat map.
    bounds : ((x_min, x_max), (y_min, y_max)), optional
        Plotted region; default: the data's range plus 10 %, or the fitted mean ± 3
        standard deviations.
    log_scale : bool, default=False
        Colour by log-density instead of density.
    random_state : int or None, default=0
        Seed of the samples.
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
        Axes ``[density, samples]`` (or only the density when ``n_samples=0``).
    """
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features != 2:
        raise ParameterError(
            f"plot_density_2d draws densities of 2 features; the estimator has {n_features}. "
            "Fit it on a 2-column array (or project your data first)."
        )
    if isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 2:
        raise ParameterError(f"'grid_size' must be an int >= 2. Got {grid_size!r} instead.")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 0:
        raise ParameterError(f"'n_samples' must be an int >= 0. Got {n_samples!r} instead.")
    data = None if X is None else np.asarray(X, dtype=np.float64)
    box = _bounds(estimator, data, bounds)
    gx = np.linspace(box[0, 0], box[0, 1], grid_size)
    gy = np.linspace(box[1, 0], box[1, 1], grid_size)
    xx, yy = np.meshgrid(gx, gy)
    log_density = estimator.score_samples(np.stack([xx.ravel(), yy.ravel()], axis=1))
    values = log_density if log_scale else np.exp(log_density)
    n_panels = 2 if n_samples else 1
    fig = Figure(figsize=figsize or (5.0 * n_panels, 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n_panels, sharex=True, sharey=True))
    mesh = axes[0].pcolormesh(
        xx, yy, values.reshape(xx.shape), shading="auto", cmap="viridis", rasterized=True
    )
    fig.colorbar(mesh, ax=axes[0], label="log-density" if log_scale else "density")
    axes[0].set_title("density")
    if n_samples:
        ax = axes[1]
        if data is not None:
            ax.scatter(data[:, 0], data[:, 1], s=2, c="0.75", label="data", rasterized=True)
        drawn = estimator.sample(n_samples, random_state=random_state)
        ax.scatter(drawn[:, 0], drawn[:, 1], s=2, c="tab:blue", label="samples", rasterized=True)
        ax.set_title("samples")
        ax.legend(loc="upper right", markerscale=4)
    for ax in axes:
        ax.set_xlim(box[0])
        ax.set_ylim(box[1])
        ax.set_aspect("equal", adjustable="box")
    return fig
