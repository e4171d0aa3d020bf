"""Registries of the Latent ODE's extension points: encoders, posteriors, observation models.

Each entry maps the name a user passes (``LatentODEForecaster(encoder="gru")``) to a
builder of the module from a small frozen spec. Adding an encoder is one module in
``latentode/nn`` plus one line in :data:`ENCODERS`; the estimator's parameter check reads
the registry, so the new name is accepted everywhere at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from latentode.nn.anchored_observation import N_ANCHOR_FEATURES, AnchoredObservation
from latentode.nn.ffjord_posterior import FFJORDPosterior
from latentode.nn.gru_encoder import GRUDeltaTEncoder
from latentode.nn.grud_encoder import GRUDEncoder
from latentode.nn.observation import GaussianObservation
from latentode.nn.odernn import ODERNNEncoder
from latentode.nn.posterior import GaussianPosterior
from latentode.nn.protocols import Encoder, Observation, Posterior
from latentode.nn.solve import SolverConfig

__all__ = [
    "ENCODERS",
    "OBSERVATIONS",
    "POSTERIORS",
    "EncoderSpec",
    "ObservationSpec",
    "PosteriorSpec",
]


@dataclasses.dataclass(frozen=True)
class EncoderSpec:
    """What an encoder builder gets: feature and summary widths and the encoder's solver."""

    n_features: int
    hidden_dim: int
    solver: SolverConfig
    n_static: int = 0


@dataclasses.dataclass(frozen=True)
class PosteriorSpec:
    """What a posterior builder gets (the flow options matter only to flows)."""

    hidden_dim: int
    latent_dim: int
    solver: SolverConfig
    flow_hidden_dims: tuple[int, ...] = (32, 32)
    flow_blocks: int = 1
    flow_divergence: str = "exact"
    kinetic_weight: float = 0.0
    jacobian_weight: float = 0.0


@dataclasses.dataclass(frozen=True)
class ObservationSpec:
    """What an observation-model builder gets."""

    latent_dim: int
    n_features: int
    hidden_dim: int = 0
    obs_std: float | None = None


#: Encoder name → builder.
ENCODERS: dict[str, Callable[[EncoderSpec], Encoder]] = {
    "odernn": lambda s: ODERNNEncoder(
        s.n_features, s.hidden_dim, field_hidden_dim=s.hidden_dim, solver=s.solver
    ),
    "gru": lambda s: GRUDeltaTEncoder(s.n_features, s.hidden_dim),
    "grud": lambda s: GRUDEncoder(s.n_features, s.hidden_dim),
}

#: Posterior family name → builder.
POSTERIORS: dict[str, Callable[[PosteriorSpec], Posterior]] = {
    "gaussian": lambda s: GaussianPosterior(s.hidden_dim, s.latent_dim),
    "ffjord": lambda s: FFJORDPosterior(
        s.hidden_dim,
        s.latent_dim,
        flow_hidden_dims=s.flow_hidden_dims,
        n_blocks=s.flow_blocks,
        divergence=s.flow_divergence,
        solver=s.solver,
        kinetic_weight=s.kinetic_weight,
        jacobian_weight=s.jacobian_weight,
    ),
}

#: Observation model name → builder. ``"anchored"`` models each value around the
#: interpolation of the nearest context observations (see
#: :mod:`latentode.nn.anchored_observation`); its hidden layer is 32 wide when
#: ``hidden_dim`` is 0.
OBSERVATIONS: dict[str, Callable[[ObservationSpec], Observation]] = {
    "gaussian": lambda s: GaussianObservation(s.latent_dim, s.n_features, s.hidden_dim, s.obs_std),
    "anchored": lambda s: AnchoredObservation(
        s.latent_dim, s.n_features, N_ANCHOR_FEATURES, s.hidden_dim or 32, s.obs_std
    ),
}
