"""Neural ODE dynamics in observation space, trained by multiple shooting on sub-windows.

The model is ``dz/dt = rate · g(t, z)`` on the state ``z = [x, a]``: the observed (scaled)
features ``x`` of shape ``(D,)`` and ``A`` optional augmented coordinates ``a`` (Dupont et
al., 2019) that start every trajectory at 0. ``g`` is an MLP or a linear map and ``rate`` a
fixed, data-derived speed (the RMS of finite differences of the training data, in scaled
units per normalised time unit), so the network's outputs stay of order one whatever the
number of oscillations within the normalised time span.

This module holds the model (:class:`ODEDynamics`, :class:`LinearVectorField`) and
re-exports its helpers from private modules: multiple shooting on windows and the state fit
at prediction time (``_shooting``: :class:`MultipleShooting`, :func:`fit_window_states`),
secant slopes for the rate and the warm start (``_secants``), and the interpolation of
missing entries (``_fills``).
"""

from __future__ import annotations

import torch
from torch import nn

from latentode.models._fills import fill_missing, padded_fills
from latentode.models._secants import collocation_warm_start, secant_rate, secant_targets
from latentode.models._shooting import (
    MultipleShooting,
    WindowBatch,
    fit_window_states,
    gather_windows,
)
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
