"""Neural ODE dynamics in observation space, trained by multiple shooting on sub-windows.

The model is ``dz/dt = rate · g(t, z)`` on the state ``z = [x, a]``: the observed (scaled)
features ``x`` of shape ``(D,)`` and ``A`` optional augmented coordinates ``a`` (Dupont et
al., 2019) that start every trajectory at 0. ``g`` is an MLP or a linear map and ``rate`` a
fixed, data-derived speed (the RMS of finite differences of the training data, in scaled
units per normalised time unit), so the network's outputs stay of order one whatever the
number of oscillations within the normalised time span.

Training (:class:`MultipleShooting`) cuts each trajectory into windows of ``W`` consecutive
observations. Every observation time carries a free *shooting node* — the state at that
time, initialised at the (interpolated) observation — so a window starts from a denoised,
fully observed state; the node and the field are both fitted to the window's observations.
Short windows keep gradients stable however long the trajectories; sharing nodes between
overlapping windows ties them into one consistent trajectory.

At prediction time :func:`fit_window_states` estimates the state at the start of a window of
observations (noisy, possibly partially observed) by least squares through the learned
dynamics, with the field frozen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from latentode.nn.solve import NFECounter, SolverConfig, solve_on_grids

__all__ = [
    "LinearVectorField",
    "MultipleShooting",
    "ODEDynamics",
    "WindowBatch",
    "collocation_warm_start",
    "fill_missing",
    "fit_window_states",
    "gather_windows",
    "padded_fills",
    "secant_rate",
    "secant_targets",
]


class LinearVectorField(nn.Module):
    """``dz/dt = W z + b`` (``b`` only with ``bias=True``), initialised at zero.

    Parameters
    ----------
    dim : int
        State dimension.
    bias : bool, default=True
        Learn an intercept ``b``.

    Notes
    -----
    ``forward(t, z)`` ignores ``t`` and maps ``z`` of shape ``(..., n_series, dim)`` to the
    same shape.
    """

    def __init__(self, dim: int, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim, bias=bias)
        nn.init.zeros_(self.linear.weight)
        if bias:
            nn.init.zeros_(self.linear.bias)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z)


class ODEDynamics(nn.Module):
    """A learned vector field on observed (+ augmented) coordinates, and its solver.

    Parameters
    ----------
    field : nn.Module
        ``g(t, z)`` with ``t`` of shape ``(n_series,)`` and ``z`` of shape
        ``(..., n_series, n_features + augment_dim)``.
    n_features : int
        Observed dimensions D (the first D state coordinates).
    augment_dim : int
        Extra latent coordinates A, zero at the start of a trajectory.
    solver : SolverConfig
    rate : float, default=1.0
        Output scale of the field (a buffer, saved with the weights).

    Attributes
    ----------
    counter : NFECounter
        Vector-field evaluations of the solves since the last ``counter.reset()``.
    """

    def __init__(
        self,
        field: nn.Module,
        n_features: int,
        augment_dim: int,
        solver: SolverConfig,
        rate: float = 1.0,
    ) -> None:
        super().__init__()
        self.field = field
        self.n_features = n_features
        self.augment_dim = augment_dim
        self.solver = solver
        self.counter = NFECounter()
        self.rate: torch.Tensor
        self.register_buffer("rate", torch.tensor(float(rate), dtype=torch.float32))

    @property
    def state_dim(self) -> int:
        """``n_features + augment_dim``."""
        return self.n_features + self.augment_dim

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``dz/dt`` of shape ``(..., n_series, state_dim)`` in scaled units per normalised time."""
        return self.rate * self.field(t, z)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        """Append zero augmented coordinates: ``(..., D)`` → ``(..., D + A)``."""
        if self.augment_dim == 0:
            return x
        pad = x.new_zeros((*x.shape[:-1], self.augment_dim))
        return torch.cat([x, pad], dim=-1)

    def simulate(self, z0: torch.Tensor, t0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """Solve from ``z0`` (``(B, L)``) at ``t0`` (``(B,)``) to ``times`` (``(B, Q)``).

        Returns the states of shape ``(B, Q, L)``; see
        :func:`~latentode.nn.solve.solve_on_grids` for the per-series grids.
        """
        return solve_on_grids(self, z0, t0, times, self.solver, self.counter)

    def trajectory(self, z0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """States ``(..., B, W, L)`` at ``times`` ``(B, W)`` from ``z0`` ``(..., B, L)``."""
        if times.shape[1] == 1:
            return z0.unsqueeze(-2)
        rest = self.simulate(z0, times[:, 0], times[:, 1:])
        return torch.cat([z0.unsqueeze(-2), rest], dim=-2)


class WindowBatch:
    """Windows of ``W`` consecutive observations (padding repeats the last time, mask 0).

    Attributes
    ----------
    times : Tensor of shape (B, W), float64
    values, mask : Tensor of shape (B, W, D), float32
    flat_index : Tensor of shape (B,), long
        ``series * K + start``: the shooting node of each window's first observation.
    """

    def __init__(
        self,
        times: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor,
        flat_index: torch.Tensor,
    ) -> None:
        self.times = times
        self.values = values
        self.mask = mask
        self.flat_index = flat_index


def gather_windows(
    times: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    series: torch.Tensor,
    starts: torch.Tensor,
    width: int,
) -> WindowBatch:
    """Cut windows of ``width`` observations out of padded series.

    Parameters
    ----------
    times : Tensor of shape (N, K); values, mask : Tensor of shape (N, K, D)
        Padded series (see :func:`latentode.data.collate`).
    lengths : Tensor of shape (N,)
    series, starts : Tensor of shape (B,), long
        Series and first observation of each window.
    width : int
        Observations per window; windows running past a series' end are padded.
    """
    offsets = torch.arange(width, device=times.device)
    j = starts.unsqueeze(1) + offsets  # (B, W)
    last = (lengths.index_select(0, series) - 1).unsqueeze(1)
    valid = (j <= last).to(mask.dtype)
    jc = torch.minimum(j, last)
    rows = series.unsqueeze(1)
    return WindowBatch(
        times[rows, jc],
        values[rows, jc],
        mask[rows, jc] * valid.unsqueeze(-1),
        series * times.shape[1] + starts,
    )


def _masked_sq_error(pred: torch.Tensor, batch: WindowBatch) -> tuple[torch.Tensor, torch.Tensor]:
    d = batch.values.shape[-1]
    err = (pred[..., :d] - batch.values) ** 2 * batch.mask
    return err.sum(), batch.mask.sum()


class MultipleShooting(nn.Module):
    """Training objective: window MSE from learned (or fixed) shooting nodes.

    Parameters
    ----------
    dynamics : ODEDynamics
    init_states : Tensor of shape (N, K, D)
        Initial node values: the scaled observations with missing entries interpolated.
    learn_nodes : bool
        Fit the nodes (and their augmented coordinates) with the field; otherwise every
        window starts from ``init_states`` (augmented coordinates 0).
    """

    def __init__(self, dynamics: ODEDynamics, init_states: torch.Tensor, learn_nodes: bool):
        super().__init__()
        self.dynamics = dynamics
        nodes = dynamics.lift(init_states.to(torch.float32)).reshape(
            -1, dynamics.state_dim
        )  # (N*K, L)
        if learn_nodes:
            self.nodes = nn.Parameter(nodes.clone())
        else:
            self.register_buffer("nodes", nodes.clone())

    def forward(self, batch: WindowBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed squared error over observed window entries, and their count."""
        z0 = self.nodes.index_select(0, batch.flat_index)
        pred = self.dynamics.trajectory(z0, batch.times)
        return _masked_sq_error(pred, batch)


def fit_window_states(
    dynamics: ODEDynamics,
    batch: WindowBatch,
    init: torch.Tensor,
    *,
    steps: int,
    eps: float = 1e-2,
) -> torch.Tensor:
    """Least-squares states at each window's first time, through the frozen dynamics.

    Minimises, for every window independently, the squared error between the trajectory
    started from ``z`` and the window's observed entries, by ``steps`` Levenberg–Marquardt
    (damped Gauss–Newton) iterations. The trajectory's sensitivity to ``z`` comes from
    central differences (step ``eps`` in scaled units): the ``2 L + 1`` perturbed starts
    are solved together, as a leading batch dimension, in one solve per iteration.

    Parameters
    ----------
    dynamics : ODEDynamics
    batch : WindowBatch
    init : Tensor of shape (B, L)
        Starting guess (e.g. the interpolated first observation, augmented with zeros).
    steps : int
        Iterations; 0 returns ``init``.

    Returns
    -------
    Tensor of shape (B, L), detached.
    """
    z = init.detach().clone()
    if steps == 0 or batch.times.shape[1] < 2:
        return z
    n_states, d = z.shape[-1], batch.values.shape[-1]
    offsets = torch.cat(
        [z.new_zeros(1, n_states), eps * torch.eye(n_states), -eps * torch.eye(n_states)]
    ).to(z.device)
    weight = batch.mask.reshape(len(z), -1, 1).double()  # (B, W*D, 1)
    target = batch.values.reshape(len(z), -1).double()
    with torch.no_grad():
        for _ in range(steps):
            starts = z.unsqueeze(0) + offsets.unsqueeze(1)  # (2L+1, B, L)
            paths = dynamics.trajectory(starts, batch.times)[..., :d].double()
            paths = paths.reshape(2 * n_states + 1, len(z), -1)  # (2L+1, B, W*D)
            jac = ((paths[1 : n_states + 1] - paths[n_states + 1 :]) / (2 * eps)).permute(
                1, 2, 0
            )  # (B, W*D, L)
            resid = (target - paths[0]).unsqueeze(-1)
            jtw = (jac * weight).transpose(1, 2)
            normal = jtw @ jac
            damping = 1e-6 * normal.diagonal(dim1=1, dim2=2).mean(-1) + 1e-9
            normal = normal + damping[:, None, None] * torch.eye(n_states, dtype=normal.dtype)
            step = torch.linalg.solve(normal, jtw @ resid).squeeze(-1)
            z = z + step.to(z.dtype)
    return z


def secant_targets(
    series: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Midpoint times ``(M,)``, states ``(M, D)`` and slopes ``(M, D)`` of observation pairs.

    For consecutive observations of a series observed in every feature, the secant slope
    ``(x[k+1] - x[k]) / (t[k+1] - t[k])`` estimates ``dx/dt`` at the midpoint
    ``(x[k] + x[k+1]) / 2`` to second order in the gap.
    """
    t_mid, x_mid, slopes = [], [], []
    for t, v, m in series:
        both = m[1:].all(axis=1) & m[:-1].all(axis=1)
        dt = np.diff(t)[both]
        t_mid.append((0.5 * (t[1:] + t[:-1]))[both])
        x_mid.append((0.5 * (v[1:] + v[:-1]))[both])
        slopes.append(np.diff(v, axis=0)[both] / dt[:, None])
    d = series[0][1].shape[1]
    return (
        np.concatenate(t_mid) if t_mid else np.empty(0),
        np.concatenate(x_mid) if x_mid else np.empty((0, d)),
        np.concatenate(slopes) if slopes else np.empty((0, d)),
    )


def collocation_warm_start(
    dynamics: ODEDynamics,
    targets: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    steps: int,
    lr: float,
    generator: torch.Generator,
    batch_size: int = 4096,
) -> float:
    """Fit the field to secant slopes (no ODE solve) before shooting; returns the last MSE.

    Gradient matching gets the field close cheaply; the window fit then removes the bias of
    finite differences. Minimises ``mean(|f(t, [x, 0]) - slope|²) / rate²`` with Adam.
    """
    t_mid, x_mid, slopes = targets
    if steps == 0 or len(t_mid) == 0:
        return float("nan")
    device = dynamics.rate.device
    t = torch.as_tensor(t_mid, dtype=torch.float64, device=device)
    x = dynamics.lift(torch.as_tensor(x_mid, dtype=torch.float32, device=device))
    y = torch.as_tensor(slopes, dtype=torch.float32, device=device)
    d = y.shape[-1]
    optimizer = torch.optim.Adam(dynamics.parameters(), lr=lr)
    scale = float(dynamics.rate) ** 2
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        idx = (
            torch.randint(len(t), (batch_size,), generator=generator).to(device)
            if len(t) > batch_size
            else slice(None)
        )
        loss = ((dynamics(t[idx], x[idx])[:, :d] - y[idx]) ** 2).mean() / scale
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def fill_missing(times: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Linearly interpolate unobserved entries of one series (constant beyond the ends).

    Parameters
    ----------
    times : ndarray of shape (K,)
    values, mask : ndarray of shape (K, D)
        A feature never observed in the series becomes 0 (the scaled mean).

    Returns
    -------
    ndarray of shape (K, D), float32
    """
    out = np.array(values, dtype=np.float64, copy=True)
    for d in range(values.shape[1]):
        seen = mask[:, d].astype(bool)
        if seen.all():
            continue
        out[:, d] = np.interp(times, times[seen], values[seen, d]) if seen.any() else 0.0
    return out.astype(np.float32)


def padded_fills(
    series: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], device: torch.device
) -> torch.Tensor:
    """:func:`fill_missing` of each ``(times, values, mask)``, zero-padded to ``(N, K, D)``."""
    n_times = max(len(t) for t, _, _ in series)
    n_features = series[0][1].shape[1]
    out = np.zeros((len(series), n_times, n_features), dtype=np.float32)
    for i, (t, v, m) in enumerate(series):
        out[i, : len(t)] = fill_missing(t, v, m)
    return torch.as_tensor(out, device=device)


def secant_rate(
    series: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], n_secants: int = 50
) -> float:
    """Typical speed of scaled states per normalised time unit (sets ``ODEDynamics.rate``).

    The root mean square of secant slopes ``(x[k+s] - x[k]) / (t[k+s] - t[k])`` over
    entries observed at both ends, with a stride ``s`` giving each series about
    ``n_secants`` secants (so that noise between close observations does not dominate).
    Returns 1.0 when no slope can be formed; clipped to ``[1e-3, 1e3]``.
    """
    slopes = []
    for t, v, m in series:
        stride = max(1, len(t) // n_secants)
        if len(t) <= stride:
            continue
        dt = (t[stride:] - t[:-stride])[:, None]
        both = m[stride:] & m[:-stride]
        slopes.append(((v[stride:] - v[:-stride]) / dt)[both])
    flat = np.concatenate(slopes) if slopes else np.empty(0)
    if flat.size == 0:
        return 1.0
    rate = float(np.sqrt(np.mean(flat.astype(np.float64) ** 2)))
    return float(np.clip(rate, 1e-3, 1e3)) if np.isfinite(rate) and rate > 0 else 1.0
