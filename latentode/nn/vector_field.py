"""MLP vector fields ``f(t, z)`` for the solve layer."""

from __future__ import annotations

import torch
from torch import nn

from latentode.exceptions import ParameterError

__all__ = ["ControlledField", "MLPVectorField", "make_mlp", "piecewise_constant"]

_ACTIVATIONS = {"tanh": nn.Tanh, "softplus": nn.Softplus, "relu": nn.ReLU, "elu": nn.ELU}


def make_mlp(
    in_dim: int, out_dim: int, hidden_dim: int, n_layers: int, activation: str = "tanh"
) -> nn.Sequential:
    """An MLP with ``n_layers`` hidden layers (0 gives a single linear map)."""
    if activation not in _ACTIVATIONS:
        raise ParameterError(
            f"The 'activation' must be one of {sorted(_ACTIVATIONS)}. Got {activation!r} instead."
        )
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(n_layers):
        layers += [nn.Linear(width, hidden_dim), _ACTIVATIONS[activation]()]
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class MLPVectorField(nn.Module):
    """``dz/dt = MLP(z)`` or, with ``time_dependent=True``, ``MLP([z, t])``.

    Parameters
    ----------
    dim : int
        State dimension.
    hidden_dim, n_layers : int
        Width and number of hidden layers.
    activation : {"tanh", "softplus", "relu", "elu"}
        Smooth activations (tanh, softplus) keep adaptive solvers cheap.
    time_dependent : bool
        Feed the (normalised) time as an extra input.
    n_controls : int, default=0
        Width of a known input ``u(t)`` (time-varying covariates) fed beside ``z``:
        ``dz/dt = MLP([z, (t,) u])`` (see :class:`ControlledField`).

    Notes
    -----
    ``forward(t, z, u=None)`` takes per-series times ``t`` of shape ``(n_series,)`` (or a
    scalar), states ``z`` of shape ``(..., n_series, dim)`` and, with ``n_controls``,
    inputs ``u`` of shape ``(n_series, n_controls)``.
    """

    def __init__(
        self,
        dim: int,
        hidden_dim: int = 64,
        n_layers: int = 2,
        *,
        activation: str = "tanh",
        time_dependent: bool = False,
        n_controls: int = 0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.time_dependent = time_dependent
        self.n_controls = int(n_controls)
        width = dim + int(time_dependent) + self.n_controls
        self.net = make_mlp(width, dim, hidden_dim, n_layers, activation)

    def forward(
        self, t: torch.Tensor, z: torch.Tensor, u: torch.Tensor | None = None
    ) -> torch.Tensor:
        parts = [z]
        if self.time_dependent:
            tt = t.to(z.dtype).expand(z.shape[:-1])  # scalar or (n_series,) → z's batch dims
            parts.append(tt.unsqueeze(-1))
        if self.n_controls:
            if u is None or u.shape[-1] != self.n_controls:
                got = None if u is None else tuple(u.shape)
                raise ValueError(
                    f"This vector field takes {self.n_controls} control input(s) u(t) "
                    f"(time-varying covariates); got {got}."
                )
            parts.append(u.to(z.dtype).expand(*z.shape[:-1], self.n_controls))
        x = torch.cat(parts, dim=-1) if len(parts) > 1 else z
        if torch.is_grad_enabled():
            return self.net(x)
        return _forward_no_grad(self.net, x)


def _forward_no_grad(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``net(x)`` without gradients, a tanh applied in place to the fresh output of the
    layer before it (the same values, one temporary less per hidden layer: the decoder's
    solve evaluates the field on every posterior sample of every series at every step)."""
    fresh = False
    for layer in net:
        if fresh and isinstance(layer, nn.Tanh):
            x = x.tanh_()
        else:
            x = layer(x)
            fresh = isinstance(layer, nn.Linear)
    return x


def piecewise_constant(times: torch.Tensor, values: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Each series' path at its own times: ``values[b, k]`` for the last knot
    ``times[b, k] <= t[b, ...]`` (the first value before the first knot).

    ``times`` ``(B, K)`` non-decreasing rows, ``values`` ``(B, K, C)``, ``t`` ``(B,)``
    (or a scalar) or ``(B, Q)``; returns ``(B, C)`` or ``(B, Q, C)``. A NaN time (a
    diverged fit) reads the last value.
    """
    n, k = times.shape
    tt = t.to(times.dtype)
    squeeze = tt.dim() < 2
    tt = tt.expand(n).reshape(n, 1) if squeeze else tt
    idx = torch.searchsorted(times, tt.contiguous(), right=True).clamp(1, k) - 1  # (B, Q)
    c = values.shape[-1]
    out = values.gather(1, idx.unsqueeze(-1).expand(n, idx.shape[1], c))
    return out.squeeze(1) if squeeze else out


class ControlledField(nn.Module):
    """``f(t, z, u(t))``: a field with control inputs, fed each series' known covariate
    path (:func:`piecewise_constant` of ``times`` ``(B, K)`` and ``values`` ``(B, K, C)``)
    at its own time — a solver calls it as ``field(t, z)`` like any other.

    Solvers may reorder and drop rows (:func:`~latentode.nn._fixed_steps.fixed_trajectory`
    leaves finished series out; a partial step solves every query as a row), so a row's
    series is carried in the state itself: :meth:`augment` appends the series' index to
    ``z0`` as a last coordinate with zero derivative, and :meth:`strip` removes it from the
    solution.
    """

    def __init__(self, field: nn.Module, times: torch.Tensor, values: torch.Tensor) -> None:
        super().__init__()
        self.field = field
        self.times = times.contiguous()
        self.values = values

    def augment(self, z0: torch.Tensor) -> torch.Tensor:
        """``z0`` ``(..., B, L)`` with each row's series index appended ``(..., B, L + 1)``."""
        index = torch.arange(z0.shape[-2], device=z0.device, dtype=z0.dtype)
        return torch.cat([z0, index.unsqueeze(-1).expand(*z0.shape[:-1], 1)], dim=-1)

    @staticmethod
    def strip(z: torch.Tensor) -> torch.Tensor:
        """The solution without the index coordinate."""
        return z[..., :-1]

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        rows = z.reshape(-1, *z.shape[-2:])[0, :, -1].detach().round().long()
        rows = rows.clamp(0, self.times.shape[0] - 1)
        u = piecewise_constant(
            self.times.index_select(0, rows), self.values.index_select(0, rows), t
        )
        dz = self.field(t, z[..., :-1], u)
        return torch.cat([dz, torch.zeros_like(z[..., -1:])], dim=-1)
