"""The CNF's augmented dynamics: the field with its trace estimate and regularisers.

Trace of the Jacobian
---------------------
The field (:class:`~latentode.nn._concat_squash.ConcatSquashField`) propagates
Jacobian–vector products *forward* alongside its output (no double back-propagation, so the
training backward pass is an ordinary one):

- ``"exact"``: ``J`` is carried column by column (``D`` tangents), giving the exact trace —
  cheapest for small ``D``, noise-free;
- ``"hutchinson"``: one tangent ``ε`` (Rademacher or Gaussian, drawn once per solve by
  :func:`draw_probe`) gives the unbiased estimate ``εᵀ J ε`` in ``O(D)``.

Regularisation
--------------
With ``regularize=True`` two more integrals ride along (Finlay et al., ICML 2020, "How to
train your neural ODE"): kinetic energy ``∫ ||f||² dt`` and Jacobian Frobenius norm
``∫ ||J||_F² dt`` (exactly, or its Hutchinson estimate ``||J ε||²``). Penalising them keeps
trajectories straight and the solver's step count (NFE) low during training.
"""

from __future__ import annotations

import torch
from torch import nn

from latentode.nn._concat_squash import ConcatSquashField

__all__ = ["DIVERGENCES", "NOISES", "AugmentedField", "draw_probe"]

DIVERGENCES = ("exact", "hutchinson")
NOISES = ("rademacher", "gaussian")


class AugmentedField(nn.Module):
    """``d/dt [z, log p, (kinetic, frobenius), context] = [f, -tr J, (|f|², |J|²), 0]``."""

    def __init__(self, field: ConcatSquashField, divergence: str, regularize: bool) -> None:
        super().__init__()
        self.field = field
        self.divergence = divergence
        self.regularize = regularize
        self.noise: torch.Tensor | None = None  # (..., n, dim), fixed for one solve

    def forward(self, t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        dim, c_dim = self.field.dim, self.field.context_dim
        z = state[..., :dim]
        context = state[..., state.shape[-1] - c_dim :] if c_dim else None
        if self.divergence == "exact":
            dz, jvp = self.field.forward_jvp(t, z, context, None)
            div = torch.diagonal(jvp, dim1=-2, dim2=-1).sum(-1)
        else:
            noise = self.noise
            dz, jvp = self.field.forward_jvp(t, z, context, noise.unsqueeze(-2))
            div = (jvp.squeeze(-2) * noise).sum(-1)
        parts = [dz, -div.unsqueeze(-1)]
        if self.regularize:
            parts.append(dz.pow(2).sum(-1, keepdim=True))
            parts.append(jvp.pow(2).sum(dim=(-2, -1)).unsqueeze(-1))
        if c_dim:
            parts.append(torch.zeros_like(context))
        return torch.cat(parts, dim=-1)


def draw_probe(z: torch.Tensor, noise: str, generator: torch.Generator | None) -> torch.Tensor:
    """Hutchinson's probe ``ε`` of the shape of ``z``: Rademacher or standard Gaussian."""
    if noise == "gaussian":
        return torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)
    bits = torch.randint(0, 2, z.shape, generator=generator, device=z.device)
    return bits.to(z.dtype) * 2 - 1
