"""``LatentODEForecaster``: fit / predict irregular multivariate series with a Latent ODE."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
import torch

from latentode.data import (
    IrregularDataset,
    LongFrameEncoder,
    LongFrameSpec,
    frame_library,
    from_pandas,
    to_pandas,
)
from latentode.estimators._base import TUPLE, BaseTorchEstimator, Fitted, split_series
from latentode.estimators._frames import output_frame, series_summary
from latentode.estimators._param_groups import document, store_params
from latentode.estimators._registry import register
from latentode.estimators._tensors import PaddedSeries, plan_queries
from latentode.estimators.forecaster._build import CONSTRAINTS, build_latent_ode
from latentode.estimators.forecaster._calibration import calibrate_noise
from latentode.estimators.forecaster._inference import (
    Predictive,
    check_levels,
    iwae_bounds,
    predictive_samples,
)
from latentode.estimators.forecaster._training import LatentTraining, training_parts
from latentode.exceptions import QueryError
from latentode.training import Callback, Trainer

__all__ = ["LatentODEForecaster"]

logger = logging.getLogger(__name__)

RandomStateLike = int | np.random.RandomState | np.random.Generator | None

_ENCODER = Fitted(lambda e: e.to_dict(), LongFrameEncoder.from_dict)


class _Prepared(NamedTuple):
    train: PaddedSeries
    val: PaddedSeries | None
    summary: dict[str, Any]


class _Queries(NamedTuple):
    """Where a prediction call asks for values: the history, its queries, the output order."""

    dataset: IrregularDataset
    padded: PaddedSeries
    library: str
    times: list[np.ndarray]
    order: pd.DataFrame | None


@register("forecast")
@document
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
    {frame_params}
    {runtime_params}

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
    noise_calibration_ : dict or None
        ``trained_std`` / ``calibrated_std`` per feature and the validation predictive NLL
        per observed value with each; None when no calibration ran.
    {fitted_common}
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = CONSTRAINTS
    _fitted: ClassVar[dict[str, Fitted]] = {
        "data_": _ENCODER,
        "feature_cols_": TUPLE,
        "noise_calibration_": Fitted(optional=True),
    }

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
        random_state: RandomStateLike = None,
        verbose: bool = False,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 1,
        callbacks: Sequence[Callback] | None = None,
    ) -> None:
        store_params(self, locals())

    # ------------------------------------------------------------------ fitting
    def _prepare(self, X: Any) -> _Prepared:
        feature_cols = None if self.feature_cols is None else tuple(self.feature_cols)
        spec = LongFrameSpec(self.id_col, self.time_col, feature_cols)
        self.data_ = LongFrameEncoder(spec, time_unit=self.time_unit).fit(X)
        self.feature_cols_ = tuple(self.data_.feature_cols_)
        self.noise_calibration_ = None
        dataset = self.data_.transform(X)
        train_idx, val_idx = split_series(
            len(dataset), self.validation_fraction, self.early_stopping, self.seed_
        )
        train, val = dataset.subset(train_idx), dataset.subset(val_idx) if len(val_idx) else None
        return _Prepared(
            PaddedSeries(train, self.device_, self.time_span),
            None if val is None else PaddedSeries(val, self.device_, self.time_span),
            series_summary(train, val, self.feature_cols_, self.data_.time_.scale),
        )

    def _build_module(self) -> torch.nn.Module:
        return build_latent_ode(self, len(self.feature_cols_))

    def _make_trainer(self, prepared: _Prepared) -> Trainer:
        config = LatentTraining.from_params(self)
        parts = training_parts(
            self.module_, prepared.train, prepared.val, config, self.seed_, self.device_
        )
        return self._trainer(
            self.module_, parts, counter=self.module_.counter, data_summary=prepared.summary
        )

    def _after_fit(self, prepared: _Prepared) -> None:
        if self.calibrate_noise and self.obs_std is None and prepared.val is not None:
            config = LatentTraining.from_params(self)
            self.noise_calibration_ = calibrate_noise(
                self.module_,
                prepared.val,
                config.context,
                self.seed_,
                batch_size=config.eval_batch_size,
            )

    # ------------------------------------------------------------------ inference
    def _history(self, X: Any) -> tuple[IrregularDataset, PaddedSeries, str]:
        self._check_fitted()
        library = frame_library(X)
        dataset = self.data_.transform(X)
        return dataset, PaddedSeries(dataset, self.device_, self.time_span), library

    def _queries(self, X: Any, at: Any, horizon: Any, n_points: int | None) -> _Queries:
        dataset, padded, library = self._history(X)
        times, order = plan_queries(self.data_, dataset, at, horizon, n_points)
        return _Queries(dataset, padded, library, times, order)

    def _predictive(self, q: _Queries, n_samples: int | None) -> Predictive:
        return predictive_samples(
            self.module_,
            q.padded,
            q.times,
            _check_n_samples(n_samples, self.n_samples),
            data=self.data_,
            time_span=self.time_span,
            latent_dim=self.latent_dim,
            seed=self.seed_,
            batch_size=max(self.batch_size, 256),
        )

    def _frame(self, q: _Queries, columns: dict[str, list[np.ndarray]]) -> Any:
        keys = (self.id_col, self.time_col)
        return output_frame(self.data_, keys, q.dataset.ids, q.times, q.order, columns, q.library)

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
        return self.predict_distribution(
            X, at, horizon=horizon, n_points=n_points, n_samples=n_samples
        )

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
        q = self._queries(X, at, horizon, n_points)
        return self._frame(
            q, self._predictive(q, n_samples).quantile_columns(self.feature_cols_, levels)
        )

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
        q = self._queries(X, at, horizon, n_points)
        pred = self._predictive(q, n_samples)
        mean = pred.mean_columns(self.feature_cols_)
        bounds = pred.interval_columns(self.feature_cols_, level)
        columns = {
            c: (mean if c in mean else bounds)[c]
            for f in self.feature_cols_
            for c in (f, f"{f}_lower", f"{f}_upper")
        }
        return self._frame(q, columns)

    def predict_distribution(
        self,
        X: Any,
        at: Any = None,
        *,
        alpha: Sequence[float] = (),
        coverage: float | None = None,
        horizon: Any = None,
        n_points: int | None = None,
        n_samples: int | None = None,
    ) -> Any:
        """Mean, quantiles and a central interval from one pass of predictive samples.

        Returns a long frame ``id_col, time_col, <features>``, then ``<feature>_q<alpha>``
        for each level of ``alpha`` (none by default) and, with ``coverage``,
        ``<feature>_lower``, ``<feature>_upper``. Each part equals what :meth:`predict`,
        :meth:`predict_quantiles` and :meth:`predict_interval` return.
        """
        levels = check_levels(alpha, "alpha") if len(alpha) else []
        level = None if coverage is None else check_levels([coverage], "coverage")[0]
        q = self._queries(X, at, horizon, n_points)
        pred = self._predictive(q, n_samples)
        columns = pred.mean_columns(self.feature_cols_)
        if levels:
            columns.update(pred.quantile_columns(self.feature_cols_, levels))
        if level is not None:
            columns.update(pred.interval_columns(self.feature_cols_, level))
        return self._frame(q, columns)

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
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
            raise QueryError(f"'n_samples' must be an int >= 1. Got {n_samples!r} instead.")
        q = self._queries(X, at, horizon, n_points)
        pred = self._predictive(q, n_samples)
        frames = []
        for k in range(n_samples):
            frame = to_pandas(self._frame(q, pred.draw_columns(self.feature_cols_, k)))
            frame.insert(2, "sample", k)
            frames.append(frame)
        return from_pandas(pd.concat(frames, ignore_index=True), q.library)

    def score_samples(self, X: Any) -> np.ndarray:
        """Per-series log-likelihood lower bound (IWAE, ``n_iwae_samples``), in nats.

        The bound is for the observed values in their original units. Returns an array of
        shape ``(n_series,)`` in the order in which series first appear in ``X``.
        """
        _, padded, _ = self._history(X)
        return iwae_bounds(
            self.module_,
            padded,
            self.n_iwae_samples,
            log_scale=np.log(self.data_.scaler_.scale_),
            latent_dim=self.latent_dim,
            seed=self.seed_,
            batch_size=max(self.batch_size, 256),
        )

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
        with torch.no_grad():
            out = [
                self.module_.latent_mean(batch).cpu().numpy()
                for _, batch in padded.chunks(max(self.batch_size, 256))
            ]
        return np.concatenate(out)


def _check_n_samples(value: Any, default: int) -> int:
    """``n_samples`` of an inference call: None means the estimator's parameter."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise QueryError(f"'n_samples' must be an int >= 1. Got {value!r} instead.")
    return int(value)
