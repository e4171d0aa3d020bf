"""Observation model ``p(x | z)``: Gaussian (or Student-t) noise with a learned or fixed scale."""

from __future__ import annotations

import math

import torch
from torch import nn

from latentode.nn.noise import noise_log_density
from latentode.nn.vector_field import make_mlp

__all__ = ["GaussianObservation"]


class GaussianObservation(nn.Module):
    """Per-feature Gaussian ``x_d ~ N(g(z)_d, σ_d²)`` with ``g`` linear or an MLP.

    Parameters
    ----------
    latent_dim, n_features : int
    hidden_dim : int
        Width of the hidden layer; 0 makes ``g`` linear.
    obs_std : float or None
        Fixed noise scale (in scaled feature units); ``None`` learns one per feature.
    """

    uses_anchors = False

    def __init__(
        self, latent_dim: int, n_features: int, hidden_dim: int = 0, obs_std: float | None = None
    ) -> None:
        super().__init__()
        self.net = make_mlp(latent_dim, n_features, hidden_dim, int(hidden_dim > 0))
        init = math.log(obs_std) if obs_std is not None else math.log(0.1)
        log_std = torch.full((n_features,), init)
        if obs_std is None:
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)
        # The noise family per feature (see :mod:`latentode.nn.noise`), as 1 / degrees of
        # freedom: Gaussian (0) until a calibration chooses Student-t tails.
        self.register_buffer("inv_df", torch.zeros(n_features))

    @property
    def df(self) -> torch.Tensor:
        """Each feature's Student-t degrees of freedom (inf: Gaussian noise)."""
        return self.inv_df.reciprocal()

    @property
    def std(self) -> torch.Tensor:
        return self.log_std.exp()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of ``p(x | z)``: ``(..., latent_dim) -> (..., n_features)``."""
        return self.net(z)

    def distribution(
        self, z: torch.Tensor, anchors: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, None]:
        """Mean of ``p(x | z)`` and None: the noise scale is :attr:`std`, the same for
        every point (``anchors`` are ignored)."""
        return self.net(z), None

    def log_prob(
        self,
        mean: torch.Tensor,
        x: torch.Tensor,
        mask: torch.Tensor,
        log_std: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sum of log-densities (each feature's noise family, :attr:`df`) over observed entries.

        ``mean`` ``(..., B, K, D)``; ``x``, ``mask`` ``(B, K, D)`` → ``(..., B)``;
        ``log_std`` (broadcastable to ``mean``) overrides the learned per-feature scale.
        """
        if log_std is None:
            log_std = self.log_std.clamp(min=-7.0)
        elem = noise_log_density(x, mean, log_std, self.df)
        return (elem * mask).sum(dim=(-1, -2))
