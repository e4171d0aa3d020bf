"""Diagonal Gaussian posterior ``q(z0 | x)`` and the posterior protocol."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from latentode.nn.vector_field import make_mlp

__all__ = ["GaussianPosterior", "PosteriorSample", "standard_normal_log_prob"]


class PosteriorSample(NamedTuple):
    """Samples of ``z0`` with their log-density and KL contribution.

    z0 : (n_samples, B, latent_dim); log_q, kl : (n_samples, B); penalty : (n_samples, B)
    or None, a regularisation term to add to the training loss (FFJORD's kinetic energy and
    Jacobian norm, already weighted).
    """

    z0: torch.Tensor
    log_q: torch.Tensor
    kl: torch.Tensor
    penalty: torch.Tensor | None = None


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """``log N(z; 0, I)`` summed over the last axis."""
    return -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)


class GaussianPosterior(nn.Module):
    """``q(z0 | h) = N(μ(h), diag σ(h)²)`` against the prior ``N(0, I)``.

    Any posterior must offer ``forward(h, n_samples) -> PosteriorSample`` and
    ``mean(h) -> (B, latent_dim)``; the KL term may be analytic (here) or Monte Carlo.
    """

    def __init__(self, hidden_dim: int, latent_dim: int, *, mlp_hidden: int = 64) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = make_mlp(hidden_dim, 2 * latent_dim, mlp_hidden, 1)

    def params(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, raw = self.net(h).chunk(2, dim=-1)
        return mu, nn.functional.softplus(raw) + 1e-4

    def mean(self, h: torch.Tensor) -> torch.Tensor:
        return self.params(h)[0]

    def forward(
        self,
        h: torch.Tensor,
        n_samples: int,
        *,
        generator: torch.Generator | None = None,
        eps: torch.Tensor | None = None,
    ) -> PosteriorSample:
        """Draw ``n_samples`` reparametrised samples of ``z0`` for each row of ``h``.

        ``eps`` (shape ``(n_samples, 1, latent_dim)`` or ``(n_samples, B, latent_dim)``)
        fixes the standard-normal noise: sharing one ``eps`` across series (common random
        numbers) makes each series' samples independent of its batch-mates and position.
        """
        mu, std = self.params(h)
        if eps is None:
            eps = torch.randn(
                (n_samples, *mu.shape), device=mu.device, dtype=mu.dtype, generator=generator
            )
        eps = eps.expand(n_samples, *mu.shape)
        z0 = mu + std * eps
        log_q = (-0.5 * (eps.pow(2) + math.log(2 * math.pi)) - std.log()).sum(-1)
        kl = 0.5 * (mu.pow(2) + std.pow(2) - 1.0 - 2.0 * std.log()).sum(-1)
        return PosteriorSample(z0, log_q, kl.expand(n_samples, -1))
