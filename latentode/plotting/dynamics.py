"""Phase portraits of a fitted :class:`~latentode.NeuralODEDynamics`.

Figures are built with :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state), so
they work under any backend, including ``Agg`` on a headless machine; save them with
``fig.savefig(path)`` or display them in a notebook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from latentode.data import to_pandas
from latentode.exceptions import QueryError

__all__ = ["plot_field_comparison", "plot_phase_portrait"]

#: A known field: ``f(x)`` for ``x`` of shape (n, D) returning (n, D), or an object with such
#: a ``vector_field`` attribute (e.g. :class:`latentode.datasets.DynamicalSystem`).
TrueField = Callable[[np.ndarray], np.ndarray] | Any

_MAX_TRAJECTORIES = 20


def plot_phase_portrait(
    estimator: Any,
    X: Any = None,
    *,
    true_field: TrueField | None = None,
    dims: Sequence[int] = (0, 1),
    bounds: Sequence[Sequence[float]] | None = None,
    grid_size: int = 30,
    t: Any = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Stream lines of the learned field over the state plane, with the data on top.

    Parameters
    ----------
    estimator : NeuralODEDynamics
        A fitted estimator.
    X : long frame, optional
        Observed trajectories to draw (and to size the plotted region).
    true_field : callable or DynamicalSystem, optional
        A known or hypothesised field ``f(x)``, ``(n, D) -> (n, D)`` in original units; when
        given, a second panel shows its stream lines over the same region.
    dims : pair of int, default=(0, 1)
        The two state coordinates spanning the plane; the others are held at the data
        mean (a slice through the field).
    bounds : ((x_min, x_max), (y_min, y_max)), optional
        Plotted region; default: the data's range plus a 10 % margin (or the fitted mean
        ± 2.5 standard deviations without ``X``).
    grid_size : int, default=30
        Grid points per axis at which the field is evaluated.
    t : float or datetime, optional
        Time at which a time-dependent field is drawn.
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes (learned), or two (learned | true) with ``true_field``.
    """
    grid = _FieldGrid(estimator, X, dims, bounds, grid_size, t)
    n_panels = 1 if true_field is None else 2
    fig = Figure(figsize=figsize or (5.5 * n_panels, 5.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n_panels, sharex=True, sharey=True))
    panels = [("learned field", grid.learned)]
    if true_field is not None:
        panels.append(("true field", grid.evaluate(true_field)))
    for ax, (title, field) in zip(axes, panels):
        u, v = grid.components(field)
        speed = np.hypot(u, v)
        ax.streamplot(grid.xx, grid.yy, u, v, color=speed, cmap="viridis", density=1.2)
        grid.draw_data(ax)
        ax.set_title(title)
        grid.label(ax)
    if grid.n_trajectories:
        axes[0].legend(loc="upper right", fontsize="small")
    return fig


def plot_field_comparison(
    estimator: Any,
    true_field: TrueField,
    X: Any = None,
    *,
    dims: Sequence[int] = (0, 1),
    bounds: Sequence[Sequence[float]] | None = None,
    grid_size: int = 30,
    t: Any = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Learned vs. true field: overlaid arrows, and the relative error as a heat map.

    The right panel shows ``‖f̂(x) − f(x)‖ / ‖f(x)‖`` in the plane (capped at 1), with the
    data on top, so that errors can be read against where data were observed. Parameters
    are those of :func:`plot_phase_portrait`.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: arrows (learned in colour, true in black) and the error map.
    """
    grid = _FieldGrid(estimator, X, dims, bounds, grid_size, t)
    truth = grid.evaluate(true_field)
    fig = Figure(figsize=figsize or (11.0, 5.0), layout="constrained")
    ax_arrows, ax_error = fig.subplots(1, 2, sharex=True, sharey=True)
    step = max(1, grid_size // 15)
    sl = (slice(None, None, step), slice(None, None, step))
    for field, colour, label in ((truth, "black", "true"), (grid.learned, "tab:orange", "learned")):
        u, v = grid.components(field)
        ax_arrows.quiver(
            grid.xx[sl], grid.yy[sl], u[sl], v[sl], color=colour, label=label, angles="xy"
        )
    ax_arrows.set_title("vector field")
    ax_arrows.legend(loc="upper right", fontsize="small")
    err = np.linalg.norm(grid.learned - truth, axis=1)
    rel = err / np.maximum(np.linalg.norm(truth, axis=1), 1e-12)
    mesh = ax_error.pcolormesh(
        grid.xx,
        grid.yy,
        np.minimum(rel, 1.0).reshape(grid.xx.shape),
        cmap="magma",
        vmin=0.0,
        vmax=1.0,
        shading="auto",
    )
    fig.colorbar(mesh, ax=ax_error, label="‖f̂ − f‖ / ‖f‖")
    grid.draw_data(ax_error, colour="white")
    ax_error.set_title("relative error")
    for ax in (ax_arrows, ax_error):
        grid.label(ax)
    return fig


class _FieldGrid:
    """A grid over a 2-D slice of state space, the learned field on it, and the data."""

    def __init__(
        self,
        estimator: Any,
        X: Any,
        dims: Sequence[int],
        bounds: Sequence[Sequence[float]] | None,
        grid_size: int,
        t: Any,
    ) -> None:
        estimator._check_fitted()
        self.names = tuple(estimator.feature_cols_)
        n_dims = len(self.names)
        self.dims = _check_dims(dims, n_dims)
        if isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 2:
            raise QueryError(f"Expected 'grid_size' to be an int >= 2; got {grid_size!r}.")
        self.trajectories = _trajectories(estimator, X) if X is not None else []
        if self.trajectories:
            stacked = np.concatenate(self.trajectories)
            centre = np.nanmean(stacked, axis=0)
            lo, hi = np.nanmin(stacked, axis=0), np.nanmax(stacked, axis=0)
            margin = 0.1 * np.where(hi > lo, hi - lo, 1.0)
            lo, hi = lo - margin, hi + margin
        else:
            scaler = estimator.data_.scaler_
            centre = np.asarray(scaler.mean_, dtype=float)
            lo, hi = centre - 2.5 * scaler.scale_, centre + 2.5 * scaler.scale_
        i, j = self.dims
        if bounds is not None:
            (lo[i], hi[i]), (lo[j], hi[j]) = _check_bounds(bounds)
        self.xx, self.yy = np.meshgrid(
            np.linspace(lo[i], hi[i], grid_size), np.linspace(lo[j], hi[j], grid_size)
        )
        self.states = np.tile(centre, (self.xx.size, 1))
        self.states[:, i] = self.xx.ravel()
        self.states[:, j] = self.yy.ravel()
        self.learned = estimator.vector_field(self.states, t=t)

    @property
    def n_trajectories(self) -> int:
        return min(len(self.trajectories), _MAX_TRAJECTORIES)

    def evaluate(self, field: TrueField) -> np.ndarray:
        func = getattr(field, "vector_field", field)
        if not callable(func):
            raise QueryError(
                "Expected 'true_field' to be a callable f(x) of shape (n, D) -> (n, D) or an "
                f"object with a 'vector_field' method; got {type(field).__name__}."
            )
        out = np.asarray(func(self.states.copy()), dtype=np.float64)
        if out.shape != self.states.shape:
            raise QueryError(
                f"Expected 'true_field' to return shape {self.states.shape} for states of that "
                f"shape; got {out.shape}."
            )
        return out

    def components(self, field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        i, j = self.dims
        return field[:, i].reshape(self.xx.shape), field[:, j].reshape(self.xx.shape)

    def draw_data(self, ax: Any, colour: str | None = None) -> None:
        i, j = self.dims
        for k, states in enumerate(self.trajectories[:_MAX_TRAJECTORIES]):
            ax.plot(
                states[:, i],
                states[:, j],
                "o-",
                markersize=2.0,
                linewidth=0.6,
                alpha=0.8,
                color=colour or f"C{k % 10}",
                label="data" if k == 0 else None,
            )

    def label(self, ax: Any) -> None:
        ax.set_xlabel(self.names[self.dims[0]])
        ax.set_ylabel(self.names[self.dims[1]])
        ax.set_xlim(self.xx.min(), self.xx.max())
        ax.set_ylim(self.yy.min(), self.yy.max())


def _trajectories(estimator: Any, X: Any) -> list[np.ndarray]:
    pdf = to_pandas(X)
    cols = list(estimator.feature_cols_)
    missing = [c for c in [estimator.id_col, estimator.time_col, *cols] if c not in pdf.columns]
    if missing:
        raise QueryError(
            f"Expected the columns {missing} in the frame of trajectories X; they are "
            "missing. Pass the frame the estimator was fitted on (or one like it)."
        )
    pdf = pdf.sort_values([estimator.id_col, estimator.time_col], kind="stable")
    groups = pdf.groupby(estimator.id_col, sort=False)[cols]
    return [g.to_numpy(dtype=np.float64, na_value=np.nan) for _, g in groups]


def _check_dims(dims: Sequence[int], n_dims: int) -> tuple[int, int]:
    try:
        i, j = (int(d) for d in dims)
    except (TypeError, ValueError) as exc:
        raise QueryError(f"Expected 'dims' to be a pair of ints; got {dims!r}.") from exc
    if not (0 <= i < n_dims and 0 <= j < n_dims) or i == j:
        raise QueryError(
            f"Expected 'dims' to be two different state indices in [0, {n_dims - 1}]; got {dims!r}."
        )
    return i, j


def _check_bounds(bounds: Sequence[Sequence[float]]) -> tuple[tuple[float, float], ...]:
    try:
        (a, b), (c, d) = ((float(x), float(y)) for x, y in bounds)
    except (TypeError, ValueError) as exc:
        raise QueryError(
            f"Expected 'bounds' as ((x_min, x_max), (y_min, y_max)); got {bounds!r}."
        ) from exc
    if not (np.isfinite([a, b, c, d]).all() and a < b and c < d):
        raise QueryError(f"Expected finite, increasing 'bounds'; got {bounds!r}.")
    return (a, b), (c, d)
