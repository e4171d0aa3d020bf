"""FFJORD posterior ``q(z0 | x)``: a Gaussian base pushed through a conditional CNF.

``ε ~ N(μ(h), diag σ(h)²)`` and ``z0 = φ(ε; h)`` where ``φ`` is a continuous normalising flow
conditioned on the encoder summary ``h``. The flow's log-determinant gives
``log q(z0 | x) = log N(ε; μ, σ) + Δ log p`` exactly (exact trace) or unbiasedly
(Hutchinson). There is no closed-form KL to the prior ``N(0, I)``, so the KL term is the
one-sample Monte-Carlo estimate ``log q(z0 | x) − log N(z0; 0, I)`` per sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from latentode.nn.cnf import CNF
from latentode.nn.posterior import GaussianPosterior, PosteriorSample, standard_normal_log_prob
from latentode.nn.solve import SolverConfig

__all__ = ["FFJORDPosterior"]


class FFJORDPosterior(nn.Module):
    """Gaussian base ``q0(ε | h)`` followed by a CNF conditioned on ``h``.

    Follows the posterior protocol of :class:`~latentode.nn.posterior.GaussianPosterior`:
    ``forward(h, n_samples, *, generator=None, eps=None) -> PosteriorSample`` and
    ``mean(h)``.

    Parameters
    ----------
    hidden_dim : int
        Size of the encoder summary ``h`` (the flow's context).
    latent_dim : int
    flow_hidden_dims : sequence of int, default=(32, 32)
        Hidden widths of each CNF block's concat-squash MLP.
    n_blocks : int, default=1
    divergence : {"exact", "hutchinson"}, default="exact"
        Trace estimator of ``log q`` during training. Evaluation (``module.eval()``) always
        uses the exact trace.
    solver : SolverConfig, optional
        Solver of the flow (default: dopri5, rtol 1e-3, atol 1e-4).
    activation : {"tanh", "softplus"}, default="tanh"
    mlp_hidden : int, default=64
        Width of the base posterior's MLP.
    kinetic_weight, jacobian_weight : float, default=0.0
        Weights of the flow's kinetic energy ``∫ ||f||² dt`` and Jacobian Frobenius norm
        (Finlay et al., 2020), returned as ``PosteriorSample.penalty`` while training; they
        keep the flow's dynamics simple, so its evaluations do not grow during training.

    Attributes
    ----------
    base : GaussianPosterior
    flow : CNF
        ``flow.counter`` counts its function evaluations.
    """

    def __init__(
        self,
        hidden_dim: int,
        latent_dim: int,
        *,
        flow_hidden_dims: Sequence[int] = (32, 32),
        n_blocks: int = 1,
        divergence: str = "exact",
        solver: SolverConfig | None = None,
        activation: str = "tanh",
        mlp_hidden: int = 64,
        kinetic_weight: float = 0.0,
        jacobian_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.kinetic_weight = float(kinetic_weight)
        self.jacobian_weight = float(jacobian_weight)
        regularize = self.kinetic_weight > 0 or self.jacobian_weight > 0
        self.train_divergence = divergence
        self.base = GaussianPosterior(hidden_dim, latent_dim, mlp_hidden=mlp_hidden)
        self.flow = CNF.build(
            latent_dim,
            hidden_dims=tuple(flow_hidden_dims),
            n_blocks=n_blocks,
            context_dim=hidden_dim,
            activation=activation,
            divergence=divergence,
            solver=solver if solver is not None else SolverConfig(),
            regularize=regularize,
        )

    def train(self, mode: bool = True) -> FFJORDPosterior:
        super().train(mode)
        self.flow.set_divergence(self.train_divergence if mode else "exact")
        return self

    def mean(self, h: torch.Tensor) -> torch.Tensor:
        """The flow's image of the base mean, ``φ(μ(h); h)``, shape ``(B, latent_dim)``.

        (The exact posterior mean has no closed form; this is its "median-like" point in the
        space where ``z0`` lives.)
        """
        mu = self.base.mean(h)
        return self.flow(mu, h).z

    def forward(
        self,
        h: torch.Tensor,
        n_samples: int,
        *,
        generator: torch.Generator | None = None,
        eps: torch.Tensor | None = None,
    ) -> PosteriorSample:
        """Draw ``n_samples`` reparametrised samples of ``z0`` for each row of ``h``.

        Parameters
        ----------
        h : Tensor of shape (B, hidden_dim)
        n_samples : int
        generator : torch.Generator, optional
            Draws the base noise (when ``eps`` is None) and Hutchinson's probes.
        eps : Tensor of shape (n_samples, 1 or B, latent_dim), optional
            Fixed standard-normal base noise; shared across series (common random numbers)
            it makes each series' samples independent of its batch-mates.

        Returns
        -------
        PosteriorSample
            ``z0`` (S, B, L); ``log_q`` (S, B); ``kl`` (S, B), the Monte-Carlo estimate
            ``log_q − log N(z0; 0, I)``.
        """
        mu, std = self.base.params(h)
        if eps is None:
            eps = torch.randn(
                (n_samples, *mu.shape), device=mu.device, dtype=mu.dtype, generator=generator
            )
        eps = eps.expand(n_samples, *mu.shape)
        e0 = mu + std * eps
        log_q0 = standard_normal_log_prob(eps) - std.log().sum(-1)
        context = h.unsqueeze(0).expand(n_samples, *h.shape)
        out = self.flow(e0, context, generator=generator)
        log_q = log_q0 + out.delta_logp
        kl = log_q - standard_normal_log_prob(out.z)
        penalty = None
        if self.training and (self.kinetic_weight > 0 or self.jacobian_weight > 0):
            penalty = self.kinetic_weight * out.kinetic + self.jacobian_weight * out.frobenius
        return PosteriorSample(out.z, log_q, kl, penalty)
