"""Anchored observation model: ``p(x | z(t), anchors)`` around what the context says.

``x_d ~ N(a_d + g(z, A_d, d), (σ_d · exp(h(z, A_d, d)))²)`` where ``a_d`` is the anchor
(linear interpolation of the feature's nearest context observations, or the last / next
one) and ``A_d`` that feature's anchor features at the query (see
:mod:`latentode.models._anchors`). ``g`` and ``h`` are one MLP shared by the features (which
it tells apart by a one-hot code) whose last layer starts at zero, so an untrained head
predicts the anchor with the base noise ``σ_d``; training learns when to depart from it and
how the noise grows with the distance to the observations (heteroscedastic bands).

Each feature's correction reads only its own anchor features: whether *other* features
were observed at the query says nothing reliable about this one (in training a whole time
step is hidden or shown; in use single values are missing), so the head cannot learn to
trust it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from latentode.nn.vector_field import make_mlp

__all__ = ["N_ANCHOR_FEATURES", "AnchoredObservation"]

#: Anchor features per (query, feature) pair (see :mod:`latentode.models._anchors`).
N_ANCHOR_FEATURES = 7

#: Bound on the learned log-scale adjustment ``h`` (noise within e^±5 of the base).
_MAX_LOG_ADJUST = 5.0


class AnchoredObservation(nn.Module):
    """Per-feature Gaussian around the anchor, with a mean correction and a noise scale
    that depend on the latent state and on the anchor features.

    Parameters
    ----------
    latent_dim, n_features : int
    n_anchor_features : int, default=N_ANCHOR_FEATURES
        Anchor features per (query, feature) pair.
    hidden_dim : int, default=32
        Width of the correction MLP's hidden layer.
    obs_std : float or None
        Fixed base noise scale (scaled units; no learned adjustment); None learns both.
    """

    uses_anchors = True

    def __init__(
        self,
        latent_dim: int,
        n_features: int,
        n_anchor_features: int = N_ANCHOR_FEATURES,
        hidden_dim: int = 32,
        obs_std: float | None = None,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.fixed = obs_std is not None
        self.net = make_mlp(latent_dim + n_anchor_features + n_features, 2, hidden_dim, 1)
        self.register_buffer("codes", torch.eye(n_features))
        last = self.net[-1]
        if isinstance(last, nn.Linear):  # make_mlp ends in a Linear layer
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        init = math.log(obs_std) if obs_std is not None else math.log(0.1)
        log_std = torch.full((n_features,), init)
        if obs_std is None:
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)

    @property
    def std(self) -> torch.Tensor:
        """The base noise scale ``σ`` per feature."""
        return self.log_std.exp()

    def distribution(
        self, z: torch.Tensor, anchors: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log noise scale ``(S, B, Q, D)`` at latent states ``z`` ``(S, B, Q, L)``
        with ``anchors`` ``(B, Q, D, F)``."""
        if anchors is None:
            raise ValueError("AnchoredObservation needs the anchor features of the queries.")
        n_samples, d = z.shape[0], self.n_features
        per_feature = [
            z.unsqueeze(-2).expand(-1, -1, -1, d, -1),  # (S, B, Q, D, L)
            anchors.unsqueeze(0).expand(n_samples, -1, -1, -1, -1),  # (S, B, Q, D, F)
            self.codes.expand(*z.shape[:-1], d, d),  # (S, B, Q, D, D)
        ]
        out = self.net(torch.cat(per_feature, dim=-1))
        delta, adjust = out[..., 0], out[..., 1]
        mean = anchors[..., 0].unsqueeze(0) + delta
        if self.fixed:
            adjust = torch.zeros_like(adjust)
        adjust = _MAX_LOG_ADJUST * torch.tanh(adjust / _MAX_LOG_ADJUST)
        return mean, self.log_std.clamp(min=-7.0) + adjust

    def log_prob(
        self,
        mean: torch.Tensor,
        x: torch.Tensor,
        mask: torch.Tensor,
        log_std: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sum of Gaussian log-densities over observed entries: ``(S, B, Q, D)`` means and
        log scales, ``x`` and ``mask`` ``(B, Q, D)`` → ``(S, B)``."""
        if log_std is None:
            log_std = self.log_std.clamp(min=-7.0)
        z = (x - mean) / log_std.exp()
        elem = -0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)
        return (elem * mask).sum(dim=(-1, -2))
