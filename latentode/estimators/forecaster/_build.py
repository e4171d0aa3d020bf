"""Turning ``LatentODEForecaster`` hyper-parameters into modules (and their constraints)."""

from __future__ import annotations

from typing import Any

from torch import nn

from latentode.estimators._param_groups import (
    ACTIVATION,
    FRAME,
    LR_DECAY,
    RUNTIME,
    SOLVER,
    TRAINING,
)
from latentode.estimators._params import (
    BOOL,
    NONE,
    NONNEG_INT,
    POS_FLOAT,
    POS_INT,
    UNIT,
    Interval,
    Options,
    PositiveInts,
)
from latentode.models.latent_ode import LatentODE
from latentode.models.ode_rnn import ODERNN
from latentode.nn.cnf import DIVERGENCES
from latentode.nn.observation import GaussianObservation
from latentode.nn.registry import ENCODERS, POSTERIORS, EncoderSpec, PosteriorSpec
from latentode.nn.solve import ADAPTIVE_METHODS, FIXED_METHODS, SolverConfig
from latentode.nn.vector_field import MLPVectorField

__all__ = ["CONSTRAINTS", "build_latent_ode", "decoder_solver"]

#: ``LatentODEForecaster``'s parameter constraints: the shared groups and its own.
CONSTRAINTS: dict[str, list[Any]] = {
    **RUNTIME,
    **TRAINING,
    **SOLVER,
    **FRAME,
    **LR_DECAY,
    **ACTIVATION,
    "model": [Options(("latent_ode", "ode_rnn"))],
    "latent_dim": [POS_INT],
    "encoder": [Options(ENCODERS)],
    "encoder_hidden_dim": [POS_INT],
    "field_hidden_dim": [POS_INT],
    "field_layers": [NONNEG_INT],
    "time_span": [POS_FLOAT],
    "posterior": [Options(POSTERIORS)],
    "flow_hidden_dims": [PositiveInts()],
    "flow_blocks": [POS_INT],
    "flow_divergence": [Options(DIVERGENCES)],
    "flow_kinetic_weight": [Interval(float, 0, None)],
    "flow_jacobian_weight": [Interval(float, 0, None)],
    "obs_std": [POS_FLOAT, NONE],
    "calibrate_noise": [BOOL],
    "decoder_hidden_dim": [NONNEG_INT],
    "step_size": [POS_FLOAT, NONE],
    "encoder_method": [Options(ADAPTIVE_METHODS + FIXED_METHODS)],
    "n_train_samples": [POS_INT],
    "bound": [Options(("elbo", "iwae"))],
    "kl_warmup_epochs": [NONNEG_INT],
    "extrap_prob": [UNIT],
    "min_prefix": [UNIT],
    "context_dropout": [Interval(float, 0, 1, closed="left")],
    "n_samples": [POS_INT],
    "n_iwae_samples": [POS_INT],
}


def decoder_solver(params: Any) -> SolverConfig:
    """The solver the estimator's parameters describe (decoder, flow, ODE-RNN baseline)."""
    return SolverConfig(
        method=params.method,
        rtol=params.rtol,
        atol=params.atol,
        adjoint=params.adjoint,
        max_num_steps=params.max_num_steps,
        n_substeps=params.n_substeps,
        step_size=params.step_size,
    )


def build_latent_ode(params: Any, n_features: int) -> nn.Module:
    """The :class:`LatentODE` (or ODE-RNN baseline) that ``params`` (the estimator's
    hyper-parameters, read by name) describe for ``n_features`` feature columns."""
    hidden = params.encoder_hidden_dim
    solver = decoder_solver(params)
    if params.model == "ode_rnn":
        return ODERNN(
            n_features,
            hidden,
            GaussianObservation(hidden, n_features, params.decoder_hidden_dim, params.obs_std),
            field_hidden_dim=params.field_hidden_dim,
            field_layers=params.field_layers,
            solver=solver,
        )
    encoder_solver = SolverConfig(
        method=params.encoder_method,
        rtol=params.rtol,
        atol=params.atol,
        step_size=params.step_size,
    )
    encoder = ENCODERS[params.encoder](EncoderSpec(n_features, hidden, encoder_solver))
    field = MLPVectorField(
        params.latent_dim,
        params.field_hidden_dim,
        params.field_layers,
        activation=params.activation,
        time_dependent=params.time_dependent,
    )
    observation = GaussianObservation(
        params.latent_dim, n_features, params.decoder_hidden_dim, params.obs_std
    )
    # built last: module initialisation order fixes which random numbers each part gets
    posterior = POSTERIORS[params.posterior](
        PosteriorSpec(
            hidden,
            params.latent_dim,
            solver,
            flow_hidden_dims=tuple(int(w) for w in params.flow_hidden_dims),
            flow_blocks=params.flow_blocks,
            flow_divergence=params.flow_divergence,
            kinetic_weight=params.flow_kinetic_weight,
            jacobian_weight=params.flow_jacobian_weight,
        )
    )
    return LatentODE(encoder, posterior, field, observation, solver)
