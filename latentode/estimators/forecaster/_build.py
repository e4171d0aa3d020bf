"""``LatentODEForecaster``'s own hyper-parameters: their constraints and the modules they
describe (their documentation, filled into the class docstring, is
:mod:`latentode.estimators.forecaster._params_doc`)."""

from __future__ import annotations

import math
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
    TypeOf,
)
from latentode.estimators.forecaster._calibration import METRICS as CALIBRATION_METRICS
from latentode.estimators.forecaster._params_doc import PARAMETERS_DOC
from latentode.exceptions import ParameterError
from latentode.models.latent_ode import MEMORY_MODES, LatentODE
from latentode.models.ode_rnn import ODERNN
from latentode.nn.cnf import DIVERGENCES
from latentode.nn.observation import GaussianObservation
from latentode.nn.registry import (
    ENCODERS,
    OBSERVATIONS,
    POSTERIORS,
    EncoderSpec,
    ObservationSpec,
    PosteriorSpec,
)
from latentode.nn.solve import ADAPTIVE_METHODS, FIXED_METHODS, SolverConfig
from latentode.nn.vector_field import MLPVectorField

#: ``lr_schedule`` options of the forecaster.
LR_SCHEDULES = ("exponential", "cosine")

__all__ = [
    "AUTO_PATIENCE_STEPS",
    "CONSTRAINTS",
    "PARAMETERS_DOC",
    "build_latent_ode",
    "check_covariates",
    "check_static",
    "decoder_solver",
    "patience_epochs",
]

#: ``patience="auto"``: early stopping waits this many optimiser steps (at least
#: :data:`MIN_AUTO_PATIENCE` epochs) for the validation loss to improve.
AUTO_PATIENCE_STEPS = 1000
MIN_AUTO_PATIENCE = 20


def patience_epochs(patience: int | str, n_series: int, batch_size: int) -> int:
    """Early stopping's patience in epochs: ``patience``, or for ``"auto"`` enough epochs of
    ``ceil(n_series / batch_size)`` steps for :data:`AUTO_PATIENCE_STEPS` steps, at least
    :data:`MIN_AUTO_PATIENCE`."""
    if patience != "auto":
        return int(patience)
    steps = max(1, math.ceil(n_series / max(1, batch_size)))
    return max(MIN_AUTO_PATIENCE, math.ceil(AUTO_PATIENCE_STEPS / steps))


#: ``LatentODEForecaster``'s parameter constraints: the shared groups and its own.
CONSTRAINTS: dict[str, list[Any]] = {
    **RUNTIME,
    **TRAINING,
    "patience": [Interval(int, 1, None), Options(("auto",))],
    "lr_schedule": [Options(LR_SCHEDULES)],
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
    "observation": [Options(OBSERVATIONS)],
    "obs_std": [POS_FLOAT, NONE],
    "latent_weight": [Interval(float, 0, None)],
    "beta_nll": [Interval(float, 0, 1, closed="both")],
    "calibrate_noise": [Options(CALIBRATION_METRICS), BOOL],
    "noise": [Options(("gaussian", "student_t"))],
    "memory": [Options(MEMORY_MODES)],
    "decoder_hidden_dim": [NONNEG_INT],
    "step_size": [POS_FLOAT, NONE],
    "encoder_method": [Options(ADAPTIVE_METHODS + FIXED_METHODS)],
    "encoder_step_size": [POS_FLOAT, NONE],
    "n_train_samples": [POS_INT],
    "bound": [Options(("elbo", "iwae"))],
    "kl_warmup_epochs": [NONNEG_INT],
    "extrap_prob": [UNIT],
    "min_prefix": [UNIT],
    "context_dropout": [Interval(float, 0, 1, closed="left")],
    "value_dropout": [Interval(float, 0, 1, closed="left")],
    "n_samples": [POS_INT],
    "n_iwae_samples": [POS_INT],
    "static_cols": [TypeOf((list, tuple, None), "a list of str or None")],
    "covariate_cols": [TypeOf((list, tuple, None), "a list of str or None")],
    "feature_transforms": [
        TypeOf((dict, None), "a dict of feature column -> transform name ('log', ...), or None")
    ],
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


def _column_role(params: Any, name: str, taken: set[str], roles: str, use: str) -> tuple[str, ...]:
    """The column names of parameter ``name`` as a tuple: distinct, none in ``taken`` (the
    ``roles`` columns), and only with the Latent ODE (``use``: what they do there)."""
    value = getattr(params, name)
    cols = tuple(value or ())
    if (
        isinstance(value, str)
        or any(not isinstance(c, str) or not c for c in cols)
        or len(set(cols)) != len(cols)
    ):
        raise ParameterError(
            f"The '{name}' parameter of LatentODEForecaster must be a list of distinct "
            f"column names. Got {value!r} instead."
        )
    clash = sorted(set(cols) & taken)
    if clash:
        raise ParameterError(
            f"The '{name}' parameter of LatentODEForecaster names {clash}, which are also "
            f"the {roles} columns; a column is one of these only."
        )
    if cols and params.model == "ode_rnn":
        raise ParameterError(
            f"The '{name}' parameter of LatentODEForecaster needs model='latent_ode' ({use})."
        )
    return cols


def check_static(params: Any) -> tuple[str, ...]:
    """The ``static_cols`` as a tuple, checked against the other columns and the model."""
    taken = {params.id_col, params.time_col, *(params.feature_cols or ())}
    use = "static covariates condition the posterior of z0"
    return _column_role(params, "static_cols", taken, "id, time or feature", use)


def check_covariates(params: Any) -> tuple[str, ...]:
    """The ``covariate_cols`` as a tuple, checked against the other columns and the model."""
    taken = {
        params.id_col,
        params.time_col,
        *(params.feature_cols or ()),
        *(params.static_cols or ()),
    }
    use = "known covariates drive the latent vector field"
    return _column_role(params, "covariate_cols", taken, "id, time, feature or static", use)


def build_latent_ode(
    params: Any, n_features: int, n_static: int = 0, n_covariates: int = 0
) -> nn.Module:
    """The :class:`LatentODE` (or ODE-RNN baseline) that ``params`` (the estimator's
    hyper-parameters, read by name) describe for ``n_features`` feature columns,
    ``n_static`` static covariates (appended to the encoder summary) and ``n_covariates``
    known time-varying covariates (inputs of the encoder and of the latent vector field)."""
    hidden = params.encoder_hidden_dim
    solver = decoder_solver(params)
    if params.model == "ode_rnn":
        # the baseline predicts from its hidden state: its observation model is Gaussian
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
        step_size=params.encoder_step_size,
    )
    # known covariates are inputs of the encoder too (observed at every step)
    encoder = ENCODERS[params.encoder](
        EncoderSpec(n_features + n_covariates, hidden, encoder_solver)
    )
    field = MLPVectorField(
        params.latent_dim,
        params.field_hidden_dim,
        params.field_layers,
        activation=params.activation,
        time_dependent=params.time_dependent,
        n_controls=n_covariates,
    )
    observation = OBSERVATIONS[params.observation](
        ObservationSpec(params.latent_dim, n_features, params.decoder_hidden_dim, params.obs_std)
    )
    # built last: module initialisation order fixes which random numbers each part gets
    posterior = POSTERIORS[params.posterior](
        PosteriorSpec(
            hidden + n_static,
            params.latent_dim,
            solver,
            flow_hidden_dims=tuple(int(w) for w in params.flow_hidden_dims),
            flow_blocks=params.flow_blocks,
            flow_divergence=params.flow_divergence,
            kinetic_weight=params.flow_kinetic_weight,
            jacobian_weight=params.flow_jacobian_weight,
        )
    )
    return LatentODE(
        encoder,
        posterior,
        field,
        observation,
        solver,
        latent_weight=params.latent_weight,
        beta_nll=params.beta_nll,
        memory=params.memory,
    )
