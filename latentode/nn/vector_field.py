"""MLP vector fields ``f(t, z)`` for the solve layer."""

from __future__ import annotations

import torch
from torch import nn

from latentode.exceptions import ParameterError

__all__ = ["MLPVectorField", "make_mlp"]

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

    Notes
    -----
    ``forward(t, z)`` takes per-series times ``t`` of shape ``(n_series,)`` (or a scalar) and
    states ``z`` of shape ``(..., n_series, dim)``.
    """

    def __init__(
        self,
        dim: int,
        hidden_dim: int = 64,
        n_layers: int = 2,
        *,
        activation: str = "tanh",
        time_dependent: bool = False,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.time_dependent = time_dependent
        self.net = make_mlp(dim + int(time_dependent), dim, hidden_dim, n_layers, activation)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.time_dependent:
            tt = t.to(z.dtype).expand(z.shape[:-1])  # scalar or (n_series,) → z's batch dims
            z = torch.cat([z, tt.unsqueeze(-1)], dim=-1)
        return self.net(z)
