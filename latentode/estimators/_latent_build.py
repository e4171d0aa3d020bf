"""Turning ``LatentODEForecaster`` hyper-parameters into modules (and their constraints)."""

from __future__ import annotations

from typing import Any

from torch import nn

from latentode.estimators._params import Interval, Options, TypeOf
from latentode.estimators.density import PositiveInts
from latentode.models.latent_ode import LatentODE
from latentode.models.ode_rnn import ODERNN
from latentode.nn.cnf import DIVERGENCES
from latentode.nn.ffjord_posterior import FFJORDPosterior
from latentode.nn.gru_encoder import GRUDeltaTEncoder
from latentode.nn.observation import GaussianObservation
from latentode.nn.odernn import ODERNNEncoder
from latentode.nn.posterior import GaussianPosterior
from latentode.nn.solve import ADAPTIVE_METHODS, FIXED_METHODS, SolverConfig
from latentode.nn.vector_field import MLPVectorField

__all__ = ["ENCODERS", "POSTERIORS", "build_latent_ode", "decoder_solver", "latent_constraints"]

ENCODERS = ("odernn", "gru")
#: Posterior families; builders take ``(estimator, hidden_dim)``.
POSTERIORS: dict[str, Any] = {
    "gaussian": lambda est, hidden: GaussianPosterior(hidden, est.latent_dim),
    "ffjord": lambda est, hidden: FFJORDPosterior(
        hidden,
        est.latent_dim,
        flow_hidden_dims=tuple(int(w) for w in est.flow_hidden_dims),
        n_blocks=est.flow_blocks,
        divergence=est.flow_divergence,
        solver=decoder_solver(est),
        kinetic_weight=est.flow_kinetic_weight,
        jacobian_weight=est.flow_jacobian_weight,
    ),
}

_POS_INT = Interval(int, 1, None)
_NONNEG_INT = Interval(int, 0, None)
_POS_FLOAT = Interval(float, 0, None, closed="neither")
_UNIT = Interval(float, 0, 1, closed="both")
_BOOL = TypeOf((bool,), "a bool")
_STR = TypeOf((str,), "a str")


def latent_constraints() -> dict[str, list]:
    return {
        "model": [Options(("latent_ode", "ode_rnn"))],
        "latent_dim": [_POS_INT],
        "encoder": [Options(ENCODERS)],
        "encoder_hidden_dim": [_POS_INT],
        "field_hidden_dim": [_POS_INT],
        "field_layers": [_NONNEG_INT],
        "activation": [Options(("tanh", "softplus", "relu", "elu"))],
        "time_dependent": [_BOOL],
        "time_span": [_POS_FLOAT],
        "posterior": [Options(POSTERIORS)],
        "flow_hidden_dims": [PositiveInts()],
        "flow_blocks": [_POS_INT],
        "flow_divergence": [Options(DIVERGENCES)],
        "flow_kinetic_weight": [Interval(float, 0, None)],
        "flow_jacobian_weight": [Interval(float, 0, None)],
        "obs_std": [_POS_FLOAT, TypeOf((None,), "None")],
        "calibrate_noise": [_BOOL],
        "decoder_hidden_dim": [_NONNEG_INT],
        "method": [Options(ADAPTIVE_METHODS + FIXED_METHODS)],
        "rtol": [_POS_FLOAT],
        "atol": [_POS_FLOAT],
        "adjoint": [_BOOL],
        "max_num_steps": [_POS_INT],
        "n_substeps": [_POS_INT],
        "step_size": [_POS_FLOAT, TypeOf((None,), "None")],
        "encoder_method": [Options(ADAPTIVE_METHODS + FIXED_METHODS)],
        "lr": [_POS_FLOAT],
        "lr_decay": [Interval(float, 0, 1, closed="right")],
        "batch_size": [_POS_INT],
        "max_epochs": [_POS_INT],
        "max_time": [_POS_FLOAT, TypeOf((None,), "None")],
        "n_train_samples": [_POS_INT],
        "bound": [Options(("elbo", "iwae"))],
        "kl_warmup_epochs": [_NONNEG_INT],
        "extrap_prob": [_UNIT],
        "min_prefix": [_UNIT],
        "context_dropout": [Interval(float, 0, 1, closed="left")],
        "early_stopping": [_BOOL],
        "validation_fraction": [Interval(float, 0, 1, closed="neither")],
        "patience": [_POS_INT],
        "n_samples": [_POS_INT],
        "n_iwae_samples": [_POS_INT],
        "id_col": [_STR],
        "time_col": [_STR],
        "feature_cols": [TypeOf((list, tuple, None), "a list of str or None")],
        "time_unit": [Options(("s", "min", "h", "D", "W")), TypeOf((None,), "None")],
        "device": [TypeOf((str,), "a str such as 'auto', 'cpu' or 'cuda'")],
        "random_state": [Interval(int, 0, None), TypeOf((None,), "None")],
        "verbose": [_BOOL],
        "checkpoint_dir": [TypeOf((str, None), "a str path or None")],
        "checkpoint_every": [_POS_INT],
        "callbacks": [TypeOf((list, tuple, None), "a list of callbacks or None")],
    }


def decoder_solver(est: Any) -> SolverConfig:
    """The solver the estimator's parameters describe (decoder, flow, ODE-RNN baseline)."""
    return SolverConfig(
        method=est.method,
        rtol=est.rtol,
        atol=est.atol,
        adjoint=est.adjoint,
        max_num_steps=est.max_num_steps,
        n_substeps=est.n_substeps,
        step_size=est.step_size,
    )


def build_latent_ode(est: Any, n_features: int) -> nn.Module:
    """The :class:`LatentODE` (or ODE-RNN baseline) described by ``est``'s parameters."""
    hidden = est.encoder_hidden_dim
    if est.model == "ode_rnn":
        return ODERNN(
            n_features,
            hidden,
            GaussianObservation(hidden, n_features, est.decoder_hidden_dim, est.obs_std),
            field_hidden_dim=est.field_hidden_dim,
            field_layers=est.field_layers,
            solver=decoder_solver(est),
        )
    if est.encoder == "odernn":
        encoder: nn.Module = ODERNNEncoder(
            n_features,
            hidden,
            field_hidden_dim=hidden,
            solver=SolverConfig(
                method=est.encoder_method, rtol=est.rtol, atol=est.atol, step_size=est.step_size
            ),
        )
    else:
        encoder = GRUDeltaTEncoder(n_features, hidden)
    solver = decoder_solver(est)
    field = MLPVectorField(
        est.latent_dim,
        est.field_hidden_dim,
        est.field_layers,
        activation=est.activation,
        time_dependent=est.time_dependent,
    )
    observation = GaussianObservation(
        est.latent_dim, n_features, est.decoder_hidden_dim, est.obs_std
    )
    posterior = POSTERIORS[est.posterior](est, hidden)
    return LatentODE(encoder, posterior, field, observation, solver)
