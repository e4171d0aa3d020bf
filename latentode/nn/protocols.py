"""The interfaces of the pluggable parts of a Latent ODE: encoders and posteriors.

A new encoder or posterior is any ``nn.Module`` with these members; it becomes available
to :class:`~latentode.LatentODEForecaster` by one line in :mod:`latentode.nn.registry`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from latentode.batch import IrregularBatch
from latentode.nn.posterior import PosteriorSample
from latentode.nn.solve import NFECounter

__all__ = ["Encoder", "Posterior"]


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
