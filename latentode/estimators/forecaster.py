"""``LatentODEForecaster``: fit / predict irregular multivariate series with a Latent ODE."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentode.data import LongFrameEncoder, LongFrameSpec, frame_library
from latentode.estimators._base import BaseTorchEstimator, resolve_device, split_series
from latentode.estimators._latent_build import build_latent_ode, latent_constraints
from latentode.estimators._latent_calibration import calibrate_noise
from latentode.estimators._latent_inference import (
    assemble,
    check_levels,
    iwae_bounds,
    resolve_queries,
    sample_frame,
    sample_paths,
)
from latentode.estimators._latent_training import make_trainer
from latentode.estimators._params import validate_params
from latentode.estimators._tensors import PaddedSeries
from latentode.exceptions import ParameterError
from latentode.training import (
    Callback,
    Checkpoint,
)

__all__ = ["LatentODEForecaster"]

logger = logging.getLogger(__name__)


class LatentODEForecaster(BaseTorchEstimator):
    """Probabilistic forecaster for irregularly sampled, partially observed series.

    An encoder (ODE-RNN or GRU-Δt) reads each series backwards in time and gives a posterior
    ``q(z0 | x)`` over a latent initial state; an ODE in latent space, solved on each
    series' own time grid, carries ``z0`` to any query time; a Gaussian observation model
    maps latent states to features. Fitted by maximising the ELBO (or IWAE bound).

    Input is a *long frame* (pandas or polars) with one row per (series, time): an id
    column, a time column (float or datetime) and numeric feature columns, where NaN means
    "not observed". Outputs come back in the caller's frame library.

    Parameters
    ----------
    model : {"latent_ode", "ode_rnn"}, default="latent_ode"
        ``"ode_rnn"`` is the deterministic ODE-RNN baseline run forwards in time (its
        hidden state is ``encoder_hidden_dim`` wide; ``latent_dim`` and ``posterior`` are
        unused, predictive spread is observation noise only, ``score_samples`` is its exact
        one-step-ahead log-likelihood).
    latent_dim : int, default=8
        Size of the latent state ``z``.
    encoder : {"odernn", "gru"}, default="odernn"
        ODE-RNN (hidden state follows an ODE between observations) or a GRU fed the gaps.
    encoder_hidden_dim : int, default=32
    field_hidden_dim, field_layers : int, default=64, 2
        The latent vector field's MLP.
    activation : {"tanh", "softplus", "relu", "elu"}, default="tanh"
    time_dependent : bool, default=False
        Whether the latent dynamics see (normalised) absolute time.
    time_span : float, default=5.0
        Solver time units per median training-series span. The latent field's speed is
        measured in these units: series with many oscillations per span train faster when
        this is larger (the reference code's periodic data spans 5 units).
    posterior : {"gaussian", "ffjord"}, default="gaussian"
        Family of ``q(z0 | x)``: a diagonal Gaussian, or that Gaussian pushed through a
        FFJORD continuous normalising flow conditioned on the encoder summary (can express
        multimodal and skewed posteriors; its KL term is a Monte-Carlo estimate).
    flow_hidden_dims : tuple of int, default=(32, 32)
        ``posterior="ffjord"``: hidden widths of each flow block's concat-squash MLP.
    flow_blocks : int, default=1
        ``posterior="ffjord"``: number of stacked CNF blocks.
    flow_divergence : {"exact", "hutchinson"}, default="exact"
        ``posterior="ffjord"``: trace estimator of ``log q`` during training (exact trace:
        ``latent_dim`` Jacobian-vector products per evaluation; Hutchinson: one).
        Evaluation always uses the exact trace. The flow uses the decoder's solver settings.
    flow_kinetic_weight, flow_jacobian_weight : float, default=0.0
        ``posterior="ffjord"``: weights of the flow's kinetic-energy and Jacobian-Frobenius
        regularisers (Finlay et al., 2020), added to the training loss per observed value
        (reported as ``flow_penalty`` in ``history_``); they keep the flow's evaluations
        from growing during training. Ignored by the Gaussian posterior.
    obs_std : float or None, default=None
        Observation noise scale in standardised feature units; None learns one per feature.
    calibrate_noise : bool, default=True
        With a learned noise scale and validation series, re-fit it after training to
        maximise the validation series' predictive likelihood (the ELBO's scale also
        absorbs the posterior's spread, which predictive draws add again; see
        ``noise_calibration_``).
    decoder_hidden_dim : int, default=0
        Hidden width of the observation map (0: linear).
    method : str, default="dopri5"
        Decoder solver (any torchdiffeq method). ``rtol``, ``atol``, ``max_num_steps``,
        ``n_substeps`` (fixed-step methods without a ``step_size``: steps per interval)
        tune it. ``"euler"`` is the best measured choice on CPU within a time budget
        (``benchmarks/periodic.py``: more epochs and lower error than ``"rk4"`` or
        ``"dopri5"`` in 240 s).
    step_size : float or None, default=0.1
        Fixed-step methods, in solver time units (see ``time_span``). The decoder's
        ``euler``/``midpoint``/``rk4`` steps follow each series' own grid
        ``t0 ± j·step_size`` and reach a query by one partial step, so a forecast does not
        depend on which other times are queried; with ``adjoint=True`` a gap gets
        ``ceil(gap / step_size)`` equal steps. The ODE-RNN encoder crosses each gap in
        ``ceil(gap / step_size)`` equal steps.
    adjoint : bool, default=False
        Back-propagate with the adjoint method (less memory, slower on CPU).
    encoder_method : str, default="euler"
        Solver of the ODE-RNN's hidden ODE (one step per gap for fixed-step methods).
    lr : float, default=1e-2
    lr_decay : float, default=0.995
        Multiplicative learning-rate decay per epoch.
    batch_size : int, default=50
        Series per optimisation step.
    max_epochs : int, default=200
    max_time : float or None, default=None
        Stop training after this many seconds.
    n_train_samples : int, default=1
        Posterior samples per series and step.
    bound : {"elbo", "iwae"}, default="elbo"
        Training objective.
    kl_warmup_epochs : int, default=10
        Epochs over which the KL weight rises linearly from 0 to 1.
    extrap_prob : float, default=0.5
        Training: share of series whose encoder sees only a random prefix (fraction in
        ``[min_prefix, 1]`` of its span) while the whole series is reconstructed — teaches
        extrapolation.
    min_prefix : float, default=0.3
    context_dropout : float, default=0.5
        Training: for the other series, each observation is hidden from the encoder with
        this probability (and still reconstructed) — teaches interpolation.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the series and stop after ``patience`` epochs
        without improvement of the validation loss; keep the best weights.
    validation_fraction : float, default=0.1
    patience : int, default=20
    n_samples : int, default=32
        Posterior samples used by ``predict`` and the quantile methods.
    n_iwae_samples : int, default=16
        Importance samples of ``score_samples``.
    id_col, time_col : str, default="unique_id", "ds"
    feature_cols : sequence of str or None, default=None
        Feature columns; None takes every other column.
    time_unit : str or None, default=None
        Unit of float horizons for datetime time columns ("s", "min", "h", "D", "W";
        None means days).
    device : str, default="auto"
        "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
    random_state : int or None, default=None
        Seeds initialisation, batching, training noise and prediction samples.
    verbose : bool, default=False
        Show a progress bar and log each epoch at INFO level.
    checkpoint_dir : str or None, default=None
        Write the full training state there after every ``checkpoint_every`` epochs;
        ``fit(X, resume=True)`` continues from it.
    checkpoint_every : int, default=1
    callbacks : list of Callback or None, default=None
        Extra fit-loop callbacks (see :mod:`latentode.training`); callbacks registered
        with :func:`latentode.training.add_global_callback` (e.g. by
        ``latentode.tracking.autolog()``) are added too.

    Attributes
    ----------
    module_ : LatentODE
        The fitted torch module.
    data_ : LongFrameEncoder
        Fitted column, time-scaling and feature-scaling state.
    feature_cols_ : tuple of str
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss`` (negative ELBO per observed value), ``train_mse``,
        ``kl``, ``nfe_forward``, ``nfe_backward`` (decoder evaluations per batch),
        ``nfe_encoder`` (ODE-RNN encoder) and ``nfe_flow`` (FFJORD posterior) where there
        are such solves, ``val_loss``, ``val_mse``, ``seconds``.
    n_epochs_, best_epoch_ : int
    noise_calibration_ : dict or None
        ``trained_std`` / ``calibrated_std`` per feature and the validation predictive NLL
        per observed value with each; None when no calibration ran.
    device_ : torch.device
    """

    _parameter_constraints = latent_constraints()

    def __init__(
        self,
        *,
        model: str = "latent_ode",
        latent_dim: int = 8,
        encoder: str = "odernn",
        encoder_hidden_dim: int = 32,
        field_hidden_dim: int = 64,
        field_layers: int = 2,
        activation: str = "tanh",
        time_dependent: bool = False,
        time_span: float = 5.0,
        posterior: str = "gaussian",
        flow_hidden_dims: Sequence[int] = (32, 32),
        flow_blocks: int = 1,
        flow_divergence: str = "exact",
        flow_kinetic_weight: float = 0.0,
        flow_jacobian_weight: float = 0.0,
        obs_std: float | None = None,
        calibrate_noise: bool = True,
        decoder_hidden_dim: int = 0,
        method: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        adjoint: bool = False,
        max_num_steps: int = 10_000,
        n_substeps: int = 1,
        step_size: float | None = 0.1,
        encoder_method: str = "euler",
        lr: float = 1e-2,
        lr_decay: float = 0.995,
        batch_size: int = 50,
        max_epochs: int = 200,
        max_time: float | None = None,
        n_train_samples: int = 1,
        bound: str = "elbo",
        kl_warmup_epochs: int = 10,
        extrap_prob: float = 0.5,
        min_prefix: float = 0.3,
        context_dropout: float = 0.5,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 20,
        n_samples: int = 32,
        n_iwae_samples: int = 16,
        id_col: str = "unique_id",
        time_col: str = "ds",
        feature_cols: Sequence[str] | None = None,
        time_unit: str | None = None,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = False,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 1,
        callbacks: Sequence[Callback] | None = None,
    ) -> None:
        self.model = model
        self.latent_dim = latent_dim
        self.encoder = encoder
        self.encoder_hidden_dim = encoder_hidden_dim
        self.field_hidden_dim = field_hidden_dim
        self.field_layers = field_layers
        self.activation = activation
        self.time_dependent = time_dependent
        self.time_span = time_span
        self.posterior = posterior
        self.flow_hidden_dims = flow_hidden_dims
        self.flow_blocks = flow_blocks
        self.flow_divergence = flow_divergence
        self.flow_kinetic_weight = flow_kinetic_weight
        self.flow_jacobian_weight = flow_jacobian_weight
        self.obs_std = obs_std
        self.calibrate_noise = calibrate_noise
        self.decoder_hidden_dim = decoder_hidden_dim
        self.method = method
        self.rtol = rtol
        self.atol = atol
        self.adjoint = adjoint
        self.max_num_steps = max_num_steps
        self.n_substeps = n_substeps
        self.step_size = step_size
        self.encoder_method = encoder_method
        self.lr = lr
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.max_time = max_time
        self.n_train_samples = n_train_samples
        self.bound = bound
        self.kl_warmup_epochs = kl_warmup_epochs
        self.extrap_prob = extrap_prob
        self.min_prefix = min_prefix
        self.context_dropout = context_dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.n_samples = n_samples
        self.n_iwae_samples = n_iwae_samples
        self.id_col = id_col
        self.time_col = time_col
        self.feature_cols = feature_cols
        self.time_unit = time_unit
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.callbacks = callbacks

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: None = None, *, resume: bool = False) -> LatentODEForecaster:
        """Fit on a long frame of series.

        Parameters
        ----------
        X : pandas.DataFrame or polars.DataFrame
            Long frame: ``id_col``, ``time_col`` and feature columns (NaN = unobserved).
        y : None
            Ignored (present for scikit-learn compatibility).
        resume : bool, default=False
            Continue from the checkpoint in ``checkpoint_dir`` (same data and parameters).

        Returns
        -------
        self
        """
        validate_params(self, self._parameter_constraints)
        if resume and self.checkpoint_dir is None:
            raise ParameterError("fit(resume=True) needs the 'checkpoint_dir' parameter set.")
        self.device_ = resolve_device(self.device, type(self).__name__)
        self.seed_ = self._seed_from(self.random_state)
        torch.manual_seed(self.seed_)
        feature_cols = None if self.feature_cols is None else tuple(self.feature_cols)
        spec = LongFrameSpec(self.id_col, self.time_col, feature_cols)
        self.data_ = LongFrameEncoder(spec, time_unit=self.time_unit).fit(X)
        self.feature_cols_ = tuple(self.data_.feature_cols_)
        dataset = self.data_.transform(X)
        train_idx, val_idx = split_series(
            len(dataset), self.validation_fraction, self.early_stopping, self.seed_, logger
        )
        self.module_ = self._build_module().to(self.device_)
        train = PaddedSeries(dataset.subset(train_idx), self.device_, self.time_span)
        val = None
        if len(val_idx):
            val = PaddedSeries(dataset.subset(val_idx), self.device_, self.time_span)
        trainer = make_trainer(self, train, val)
        if resume:
            trainer.resume(Path(self.checkpoint_dir) / Checkpoint.filename)
        trainer.fit()
        self.history_ = trainer.history
        self.n_epochs_ = trainer.epoch
        self.best_epoch_ = trainer.best_epoch or trainer.epoch
        self.noise_calibration_ = None
        if self.calibrate_noise and self.obs_std is None and val is not None:
            self.noise_calibration_ = calibrate_noise(self, val)
        self.module_.eval()
        return self

    def _build_module(self) -> torch.nn.Module:
        return build_latent_ode(self, len(self.feature_cols_))

    # ------------------------------------------------------------------ inference
    def _history(self, X: Any) -> tuple[Any, PaddedSeries, str]:
        self._check_fitted()
        library = frame_library(X)
        dataset = self.data_.transform(X)
        return dataset, PaddedSeries(dataset, self.device_, self.time_span), library

    def predict(
        self,
        X: Any,
        at: Any = None,
        *,
        horizon: Any = None,
        n_points: int | None = None,
        n_samples: int | None = None,
    ) -> Any:
        """Mean forecast at query times, conditioned on each series' history in ``X``.

        Parameters
        ----------
        X : long frame
            The observed history (same columns as in ``fit``).
        at : long frame of ``id_col``, ``time_col``, optional
            Query rows (any times: inside the history to interpolate, after it to forecast).
        horizon : float or timedelta, optional
            Instead of ``at``: predict ``n_points`` evenly spaced times in
            ``(last, last + horizon]`` after each series' last observation.
        n_points : int, default=10
        n_samples : int, optional
            Posterior samples averaged (default: the ``n_samples`` parameter).

        Returns
        -------
        Long frame (the library of ``X``): ``id_col, time_col, <features>``.
        """
        dataset, padded, library, queries, order = resolve_queries(self, X, at, horizon, n_points)
        means, _ = sample_paths(self, padded, queries, n_samples or self.n_samples)
        columns = {
            name: [s[..., d].mean(0) for s in means] for d, name in enumerate(self.feature_cols_)
        }
        return assemble(self, dataset, library, queries, order, columns)

    def predict_quantiles(
        self,
        X: Any,
        at: Any = None,
        *,
        alpha: Sequence[float] = (0.1, 0.5, 0.9),
        horizon: Any = None,
        n_points: int | None = None,
        n_samples: int | None = None,
    ) -> Any:
        """Predictive quantiles (posterior and observation noise) at query times.

        Returns a long frame with ``<feature>_q<alpha>`` columns, e.g. ``y_q0.1``.
        """
        levels = check_levels(alpha, "alpha")
        dataset, padded, library, queries, order = resolve_queries(self, X, at, horizon, n_points)
        _, samples = sample_paths(self, padded, queries, n_samples or self.n_samples)
        columns: dict[str, list[np.ndarray]] = {}
        for d, name in enumerate(self.feature_cols_):
            qs = [np.quantile(s[..., d], levels, axis=0) for s in samples]
            for j, level in enumerate(levels):
                columns[f"{name}_q{level:g}"] = [q[j] for q in qs]
        return assemble(self, dataset, library, queries, order, columns)

    def predict_interval(
        self,
        X: Any,
        at: Any = None,
        *,
        coverage: float = 0.9,
        horizon: Any = None,
        n_points: int | None = None,
        n_samples: int | None = None,
    ) -> Any:
        """Central predictive interval: ``<feature>``, ``<feature>_lower``, ``<feature>_upper``."""
        (level,) = check_levels([coverage], "coverage")
        lo, hi = (1 - level) / 2, (1 + level) / 2
        dataset, padded, library, queries, order = resolve_queries(self, X, at, horizon, n_points)
        means, samples = sample_paths(self, padded, queries, n_samples or self.n_samples)
        columns: dict[str, list[np.ndarray]] = {}
        for d, name in enumerate(self.feature_cols_):
            columns[name] = [s[..., d].mean(0) for s in means]
            columns[f"{name}_lower"] = [np.quantile(s[..., d], lo, axis=0) for s in samples]
            columns[f"{name}_upper"] = [np.quantile(s[..., d], hi, axis=0) for s in samples]
        return assemble(self, dataset, library, queries, order, columns)

    def sample(
        self,
        X: Any,
        at: Any = None,
        *,
        n_samples: int = 100,
        horizon: Any = None,
        n_points: int | None = None,
    ) -> Any:
        """Draws from the predictive distribution: a long frame with a ``sample`` column."""
        return sample_frame(self, X, at, horizon, n_points, n_samples)

    def score_samples(self, X: Any) -> np.ndarray:
        """Per-series log-likelihood lower bound (IWAE, ``n_iwae_samples``), in nats.

        The bound is for the observed values in their original units. Returns an array of
        shape ``(n_series,)`` in the order in which series first appear in ``X``.
        """
        _, padded, _ = self._history(X)
        return iwae_bounds(self, padded)

    def score(self, X: Any, y: None = None) -> float:
        """Mean log-likelihood bound per observed value (higher is better).

        ``sum(score_samples(X)) / number of observed feature values`` — comparable across
        data sets of different sizes, and what ``GridSearchCV`` maximises.
        """
        scores = self.score_samples(X)
        dataset = self.data_.transform(X)
        return float(scores.sum() / dataset.n_observations)

    def transform(self, X: Any) -> np.ndarray:
        """Posterior mean of the latent initial state, ``(n_series, latent_dim)``."""
        _, padded, _ = self._history(X)
        out = []
        with torch.no_grad():
            for index in padded.batches(max(self.batch_size, 256)):
                out.append(self.module_.latent_mean(padded.batch(index)).cpu().numpy())
        return np.concatenate(out)

    # ------------------------------------------------------------------ persistence
    def _fitted_config(self) -> dict:
        return {
            "data": self.data_.to_dict(),
            "feature_cols": list(self.feature_cols_),
            "history": self.history_,
            "n_epochs": self.n_epochs_,
            "best_epoch": self.best_epoch_,
            "seed": self.seed_,
            "noise_calibration": self.noise_calibration_,
        }

    def _restore_fitted(self, config: dict) -> None:
        self.data_ = LongFrameEncoder.from_dict(config["data"])
        self.feature_cols_ = tuple(config["feature_cols"])
        self.history_ = config["history"]
        self.n_epochs_ = config["n_epochs"]
        self.best_epoch_ = config["best_epoch"]
        self.seed_ = config["seed"]
        self.noise_calibration_ = config.get("noise_calibration")
