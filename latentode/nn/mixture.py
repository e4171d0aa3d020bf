"""A Gaussian-mixture base distribution for normalising flows: :class:`GaussianMixtureBase`.

A flow transports its base density to the data. With ``N(0, I)`` as the base, a sharp,
multi-modal density (two moons at noise 0.05, eight Gaussians) has to be built entirely by
the flow, which takes many steps. With a mixture fitted to the data as the base and the
flow starting at the identity (its field's last layer starts at zero), the fit starts at
the mixture's likelihood and the flow only has to correct what the mixture misses.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["GaussianMixtureBase"]


class GaussianMixtureBase(nn.Module):
    """``p(z) = Σ_k w_k N(z; μ_k, Σ_k)`` with fixed (buffer) parameters.

    Parameters
    ----------
    n_components, dim : int
        Shapes; the parameters start as one standard normal copied ``n_components`` times
        (equal weights) until :meth:`set_parameters` or ``load_state_dict`` sets them.
    """

    def __init__(self, n_components: int, dim: int) -> None:
        super().__init__()
        self.n_components = n_components
        self.dim = dim
        self.log_weights: torch.Tensor
        self.means: torch.Tensor
        self.cholesky: torch.Tensor
        self.register_buffer("log_weights", torch.full((n_components,), -math.log(n_components)))
        self.register_buffer("means", torch.zeros(n_components, dim))
        self.register_buffer("cholesky", torch.eye(dim).expand(n_components, dim, dim).clone())

    @torch.no_grad()
    def set_parameters(
        self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray
    ) -> GaussianMixtureBase:
        """Weights ``(K,)``, means ``(K, D)`` and full covariances ``(K, D, D)`` (e.g. of a
        fitted :class:`sklearn.mixture.GaussianMixture`)."""
        chol = np.linalg.cholesky(np.asarray(covariances, dtype=np.float64))
        device = self.means.device
        self.log_weights.copy_(torch.as_tensor(np.log(weights), device=device))
        self.means.copy_(torch.as_tensor(means, device=device))
        self.cholesky.copy_(torch.as_tensor(chol, device=device))
        return self

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z)`` ``(...)`` of points ``z`` ``(..., D)``, computed in float64 (so a
        row's value does not depend on how many rows are solved with it) and returned in
        ``z``'s dtype."""
        dtype = z.dtype
        z = z.double()
        chol = self.cholesky.double()
        diff = z.unsqueeze(-2) - self.means.double()  # (..., K, D)
        flat = diff.reshape(-1, self.n_components, self.dim).transpose(0, 1)  # (K, N, D)
        white = torch.linalg.solve_triangular(chol, flat.transpose(1, 2), upper=False)
        sq = white.pow(2).sum(1).transpose(0, 1).reshape(diff.shape[:-1])  # (..., K)
        log_det = torch.diagonal(chol, dim1=-2, dim2=-1).log().sum(-1)  # (K,)
        comp = -0.5 * sq - log_det - 0.5 * self.dim * math.log(2 * math.pi)
        return torch.logsumexp(comp + self.log_weights.double(), dim=-1).to(dtype)

    def sample(
        self, n: int, generator: torch.Generator | None = None, dtype: torch.dtype | None = None
    ) -> torch.Tensor:
        """``n`` draws ``(n, D)``, from random numbers drawn on ``generator``'s device (so
        a CPU generator gives the same draws whichever device the mixture lives on)."""
        device = self.means.device
        where = torch.device("cpu") if generator is None else generator.device
        weights = self.log_weights.detach().exp().to(where)
        k = torch.multinomial(weights, n, replacement=True, generator=generator).to(device)
        eps = torch.randn((n, self.dim), generator=generator, device=where, dtype=self.means.dtype)
        eps = eps.to(device)
        z = self.means[k] + (self.cholesky[k] @ eps.unsqueeze(-1)).squeeze(-1)
        return z if dtype is None else z.to(dtype)
