"""The interfaces of the pluggable parts of a Latent ODE: encoders, posteriors and
observation models.

A new encoder or posterior is any ``nn.Module`` with these members; it becomes available
to :class:`~latentode.LatentODEForecaster` by one line in :mod:`latentode.nn.registry`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from latentode.batch import IrregularBatch
from latentode.nn.posterior import PosteriorSample
from latentode.nn.solve import NFECounter

__all__ = ["Encoder", "Observation", "Posterior"]


@runtime_checkable
class Encoder(Protocol):
    """Summarises each series of a batch, read backwards in time, at its first time.

    ``hidden_dim`` is the width of the summary; ``counter`` counts the encoder's ODE
    function evaluations (None for encoders without an ODE), reported as ``nfe_encoder``.
    """

    hidden_dim: int

    @property
    def counter(self) -> NFECounter | None:
        """Read-only here, so that an encoder may narrow it (``NFECounter`` or ``None``)."""
        ...

    def __call__(self, batch: IrregularBatch) -> torch.Tensor:
        """``(B, hidden_dim)`` summaries of ``batch`` (``times (B, K)``, ``values`` and
        ``mask`` ``(B, K, D)``, ``lengths (B,)``, optional ``static (B, S)``)."""
        ...


@runtime_checkable
class Posterior(Protocol):
    """``q(z0 | h)``: reparametrised samples of the initial latent state and their terms."""

    latent_dim: int

    def __call__(
        self,
        h: torch.Tensor,
        n_samples: int,
        *,
        generator: torch.Generator | None = None,
        eps: torch.Tensor | None = None,
    ) -> PosteriorSample:
        """``n_samples`` draws of ``z0`` per row of ``h`` ``(B, H)``; ``eps`` fixes the base
        noise (common random numbers across series)."""
        ...

    def mean(self, h: torch.Tensor) -> torch.Tensor:
        """A point summary ``(B, latent_dim)`` (the mean of the Gaussian or of the base)."""
        ...


@runtime_checkable
class Observation(Protocol):
    """``p(x | z(t))``: observation means and noise scales at latent states.

    ``uses_anchors`` says whether :meth:`distribution` needs the anchor features of the
    queries (see :mod:`latentode.models._anchors`); ``log_std`` is the per-feature (base)
    log noise scale that calibration adjusts; ``inv_df`` the per-feature noise family as
    1 / degrees of freedom (0: Gaussian; see :mod:`latentode.nn.noise`), :attr:`df` its
    reciprocal.
    """

    uses_anchors: bool
    log_std: torch.Tensor
    inv_df: torch.Tensor

    @property
    def df(self) -> torch.Tensor: ...

    @property
    def std(self) -> torch.Tensor: ...

    def distribution(
        self, z: torch.Tensor, anchors: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Means ``(S, B, Q, D)`` and log noise scales (None: :attr:`std` everywhere)."""
        ...

    def log_prob(
        self,
        mean: torch.Tensor,
        x: torch.Tensor,
        mask: torch.Tensor,
        log_std: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sum of log-densities over the observed entries, per sample and series."""
        ...
