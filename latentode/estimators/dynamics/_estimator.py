"""``NeuralODEDynamics``: learn ``dx/dt = f(x, t)`` from noisy, irregular trajectories."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch

from latentode.data import IrregularDataset, frame_library
from latentode.estimators._base import FLOAT, TUPLE, BaseTorchEstimator, Fitted, threaded
from latentode.estimators._frames import (
    ENCODER,
    fit_encoder,
    series_summary,
    split_dataset,
)
from latentode.estimators._param_groups import document, store_params
from latentode.estimators._registry import register
from latentode.estimators._tensors import pad_queries
from latentode.estimators.dynamics._build import CONSTRAINTS, PARAMETERS_DOC, build_dynamics
from latentode.estimators.dynamics._inference import (
    affine_coefficients,
    field_times,
    start_states,
)
from latentode.estimators.dynamics._inputs import (
    CHUNK,
    arrays,
    as_states,
    as_times,
    library_of,
    trajectories,
)
from latentode.estimators.dynamics._training import ShootingTraining, training_parts, warm_start
from latentode.exceptions import QueryError, SolverError
from latentode.models.dynamics import ODEDynamics, secant_rate
from latentode.training import Callback, Trainer

__all__ = ["NeuralODEDynamics"]

logger = logging.getLogger(__name__)

RandomStateLike = int | np.random.RandomState | np.random.Generator | None


class _Prepared(NamedTuple):
    train: IrregularDataset
    val: IrregularDataset | None


@register("dynamics")
@document(PARAMETERS_DOC)
class NeuralODEDynamics(BaseTorchEstimator):
    """Learn the law ``dx/dt = f(x[, t])`` behind observed trajectories (a Neural ODE).

    The vector field acts directly on the observed state columns (optionally with
    ``augment_dim`` extra coordinates). After a cheap warm start on secant slopes, it is
    fitted by *multiple shooting*: every trajectory is cut into windows of ``window_size``
    consecutive observations; each window starts from its first observation (missing
    entries interpolated; optionally from a learned state, see ``learn_initial_states``),
    is integrated through the window, and the squared error to the observations is
    minimised. Short windows keep training stable however long the trajectories.
    Observation times may be irregular and differ between trajectories; ``NaN`` means "not
    observed".

    Parameters
    ----------
    {parameters}
    {frame_params}
    {runtime_params}

    Attributes
    ----------
    module_ : ODEDynamics
        The fitted field (scaled states, normalised time) and its solver.
    data_ : LongFrameEncoder
        Fitted time mapping and feature scaling.
    feature_cols_ : tuple of str
    rate_ : float
        Speed scale of the field in scaled units per normalised time (from the data).
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss`` (window MSE in scaled units), ``nfe_forward``,
        ``nfe_backward``, ``val_loss`` (held-out window MSE), ``seconds``.
    {fitted_common}

    Notes
    -----
    Fields whose speed differs by orders of magnitude across the data (e.g. the cubic
    oscillator of :func:`~latentode.datasets.make_two_regime`, fast on a few outer turns and
    slow near the origin) fit better with ``window_size=3`` (a fast window's sensitivity to
    its noisy start grows with its length) and large batches
    such as ``batch_size=1024`` with ``lr=1e-2`` and ``lr_decay=0.98`` (on a CPU a step of
    1024 windows costs about 3× one of 64, and bigger batches average the gradient noise
    of the few fast windows). In ``benchmarks/dynamics.py`` these settings, with the
    softplus activation, took the two-regime field error from 13 % to 5–8 % (three
    seeds, 90 s budget).

    Internally states are standardised (``(x - mean_) / scale_``, see ``data_.scaler_``)
    and time normalised (``(t - origin) / scale``, see ``data_.time_``). Everything public
    is in the caller's units: by the chain rule :meth:`vector_field` returns
    ``dx/dt = scale_ · f_scaled / time_scale``, i.e. state units per unit of the time
    column (per ``time_unit`` for datetimes).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = CONSTRAINTS
    module_: ODEDynamics
    #: Parameters that shape the module: bounded by the saved weights at load time.
    _architecture: ClassVar[tuple[str, ...]] = ("hidden_dim", "n_layers", "augment_dim")
    _fitted: ClassVar[dict[str, Fitted]] = {
        "data_": ENCODER,
        "feature_cols_": TUPLE,
        "rate_": FLOAT,
    }

    def __init__(
        self,
        *,
        field: str = "mlp",
        fit_intercept: bool = True,
        hidden_dim: int = 64,
        n_layers: int = 2,
        activation: str = "softplus",
        time_dependent: bool = False,
        augment_dim: int = 0,
        window_size: int = 5,
        learn_initial_states: bool = False,
        initial_state: str = "fit",
        state_fit_steps: int = 5,
        warm_start_steps: int = 500,
        method: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        adjoint: bool = False,
        max_num_steps: int = 10_000,
        n_substeps: int = 1,
        lr: float = 3e-3,
        lr_decay: float = 0.995,
        batch_size: int = 64,
        max_epochs: int = 200,
        max_time: float | None = None,
        early_stopping: bool = True,
        validation_fraction: float = 0.2,
        patience: int = 20,
        id_col: str = "unique_id",
        time_col: str = "ds",
        feature_cols: Sequence[str] | None = None,
        time_unit: str | None = None,
        device: str = "auto",
        n_threads: int | str | None = "auto",
        random_state: RandomStateLike = None,
        verbose: bool = False,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 1,
        callbacks: Sequence[Callback] | None = None,
    ) -> None:
        store_params(self, locals())

    # ------------------------------------------------------------------ fitting
    def _prepare(self, X: Any) -> _Prepared:
        self.data_ = fit_encoder(self, X)
        self.feature_cols_ = tuple(self.data_.feature_cols_)
        train, val = split_dataset(trajectories(self.data_.transform(X)), self, self.seed_)
        self.rate_ = secant_rate(arrays(train))
        return _Prepared(train, val)

    def _make_trainer(self, prepared: _Prepared) -> Trainer:
        config = ShootingTraining.from_params(self)
        parts = training_parts(
            self.module_, prepared.train, prepared.val, config, self.seed_, self.device_
        )
        summary = series_summary(
            prepared.train, prepared.val, self.feature_cols_, self.data_.time_.scale
        )
        return self._trainer(
            self.module_, parts, counter=self.module_.counter, data_summary=summary
        )

    def _before_training(self, prepared: _Prepared) -> None:
        warm_start(self.module_, prepared.train, ShootingTraining.from_params(self), self.seed_)

    def _build_module(self) -> ODEDynamics:
        return build_dynamics(self, len(self.feature_cols_), self.rate_)

    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        if self.field != "linear":
            raise AttributeError(
                "coef_ and intercept_ exist only for field='linear'; this estimator has "
                f"field={self.field!r}. Use vector_field() to evaluate an MLP field."
            )
        return affine_coefficients(self.module_, self.data_, len(self.feature_cols_))

    def _start_states(self, dataset: IrregularDataset, anchor: str) -> Any:
        return start_states(
            self.module_,
            dataset,
            anchor=anchor,
            window_size=self.window_size,
            fit_steps=self.state_fit_steps if self.initial_state == "fit" else 0,
            device=self.device_,
        )

    @property
    def coef_(self) -> np.ndarray:
        """``A`` of ``f(x) = A x + b`` in original units, ``(D, D)`` (``field="linear"``).

        With ``augment_dim > 0`` this is the block acting on the observed coordinates.
        """
        return self._affine()[0]

    @property
    def intercept_(self) -> np.ndarray:
        """``b`` of ``f(x) = A x + b`` in original units, ``(D,)`` (``field="linear"``)."""
        return self._affine()[1]

    @threaded
    def vector_field(self, states: Any, t: Any = None) -> np.ndarray:
        """Evaluate the learned ``dx/dt`` at given states, in original units.

        Parameters
        ----------
        states : array-like of shape (n_states, n_features) or (n_features,), or a frame
            States in the units of the training data (a frame needs the state columns).
        t : float, datetime or array-like of shape (n_states,), optional
            Time(s) in the time column's units; needed when ``time_dependent=True``.

        Returns
        -------
        ndarray of shape (n_states, n_features)
            Derivatives in state units per time unit (of the time column, or ``time_unit``
            for datetimes). Augmented coordinates, if any, are taken as 0.
        """
        self._check_fitted()
        x, _ = as_states(states, self.feature_cols_, self.id_col)
        tn = field_times(
            t, len(x), data=self.data_, time_dependent=self.time_dependent, device=self.device_
        )
        scaler = self.data_.scaler_
        z = torch.as_tensor(scaler.transform(x), dtype=torch.float32, device=self.device_)
        with torch.no_grad():
            dz = self.module_(tn, self.module_.lift(z))[:, : x.shape[1]]
        return dz.cpu().double().numpy() * scaler.scale_ / self.data_.time_.scale

    # ------------------------------------------------------------------ simulation
    @threaded
    def simulate(self, initial_states: Any, times: Any, *, ids: Sequence[Any] | None = None) -> Any:
        """Integrate the learned dynamics from new initial states.

        Parameters
        ----------
        initial_states : array-like of shape (n_trajectories, n_features), or a frame
            States at ``times[0]``, original units. A frame needs the state columns; its
            ``id_col`` (if present) names the trajectories.
        times : array-like of shape (n_times,)
            Strictly increasing output times in the time column's units (or datetimes),
            shared by all trajectories; the first is the time of the initial states.
        ids : sequence, optional
            Trajectory ids (default: the frame's ids, else ``0 .. n_trajectories - 1``).

        Returns
        -------
        Long frame ``id_col, time_col, <state columns>`` (polars if ``initial_states`` is a
        polars frame, pandas for a pandas frame, else the library seen in ``fit``).
        """
        self._check_fitted()
        x, frame_ids = as_states(initial_states, self.feature_cols_, self.id_col)
        tn = as_times(times, self.data_.time_, allow_scalar=False)
        if tn.size > 1 and not (np.diff(tn) > 0).all():
            raise QueryError(
                "Expected strictly increasing 'times' for simulate; got repeated or "
                "decreasing times. Sort them (np.sort) and drop duplicates."
            )
        ids = list(ids) if ids is not None else frame_ids or list(range(len(x)))
        if len(ids) != len(x):
            raise QueryError(f"Expected {len(x)} ids (one per initial state); got {len(ids)}.")
        library = library_of(initial_states, self.data_.library_)
        z0 = torch.as_tensor(self.data_.scaler_.transform(x), dtype=torch.float32)
        grid = torch.as_tensor(tn, dtype=torch.float64, device=self.device_)
        out = []
        with torch.no_grad():
            for index in torch.arange(len(x)).split(CHUNK):
                z = self.module_.lift(z0[index].to(self.device_))
                grids = grid.expand(len(index), -1)
                states = self.module_.trajectory(z, grids)[..., : x.shape[1]]
                _check_finite(states, [ids[i] for i in index.tolist()], "simulate")
                out.append(states.cpu().numpy())
        values = self.data_.inverse_values(np.concatenate(out))
        columns = {name: list(values[..., d]) for d, name in enumerate(self.feature_cols_)}
        return self.data_.decode_frame(ids, [tn] * len(x), columns, library)

    @threaded
    def predict(
        self, X: Any, at: Any = None, *, horizon: Any = None, n_points: int | None = None
    ) -> Any:
        """Continue each observed trajectory of ``X`` with the learned dynamics.

        The state at the start of each trajectory's last ``window_size`` observations is
        estimated (see ``initial_state``) and integrated to the query times.

        Parameters
        ----------
        X : long frame
            Observed trajectories (same state columns as in ``fit``).
        at : long frame of ``id_col``, ``time_col``, optional
            Query rows (times before the last window are reached by integrating backwards).
        horizon : float or timedelta, optional
            Instead of ``at``: ``n_points`` evenly spaced times in ``(last, last + horizon]``.
        n_points : int, default=10

        Returns
        -------
        Long frame (the library of ``X``): ``id_col, time_col, <state columns>``.
        """
        self._check_fitted()
        library = frame_library(X)
        dataset = self.data_.transform(X)
        queries, order = self.data_.queries(dataset, at, horizon, n_points)
        _, t0, z0 = self._start_states(dataset, anchor="last")
        d = len(self.feature_cols_)
        per_series: list[np.ndarray] = []
        with torch.no_grad():
            for index in torch.arange(len(dataset)).split(CHUNK):
                q, counts = pad_queries([queries[i] for i in index.tolist()], t0[index], t0.device)
                states = self.module_.simulate(z0[index], t0[index], q)[..., :d]
                _check_finite(states, [dataset.ids[i] for i in index.tolist()], "predict")
                arr = self.data_.inverse_values(states.cpu().numpy())
                per_series.extend(arr[b, : counts[b]] for b in range(len(counts)))
        columns = {name: [s[:, j] for s in per_series] for j, name in enumerate(self.feature_cols_)}
        return self.data_.answer_frame(dataset.ids, queries, order, columns, library)

    @threaded
    def score(self, X: Any, y: None = None) -> float:
        """Negative mean squared error of multi-step simulation (higher is better).

        For every trajectory of ``X`` the state at its first time is estimated from its
        first ``window_size`` observations (see ``initial_state``), the learned dynamics are
        integrated through all its observation times, and the squared error to every
        observed value is averaged. Errors are in units of the fitted per-feature standard
        deviation (``data_.scaler_.scale_``), so features of different units weigh alike.
        """
        self._check_fitted()
        dataset = self.data_.transform(X)
        padded, t0, z0 = self._start_states(dataset, anchor="first")
        d = len(self.feature_cols_)
        sq = count = 0.0
        with torch.no_grad():
            for index in torch.arange(len(dataset)).split(CHUNK):
                batch = padded.batch(index)
                pred = self.module_.simulate(z0[index], t0[index], batch.times)[..., :d]
                sq += float(((pred - batch.values) ** 2 * batch.mask).sum())
                count += float(batch.mask.sum())
        return -sq / count


def _check_finite(states: torch.Tensor, ids: Sequence[Any], method: str) -> None:
    """Refuse trajectories ``(B, Q, D)`` that left the floating-point range (a learned
    field that diverges from a series' state), naming the first such series."""
    bad = ~torch.isfinite(states).all(dim=-1).all(dim=-1)
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        raise SolverError(
            f"{method}: the learned dynamics diverge from the state of series "
            f"{ids[first]!r} ({int(bad.sum())} of {len(ids)} trajectories overflow to "
            "inf / NaN before the last query time). The field was fit on too little data "
            "for these times (too few observations, or queries far beyond the training "
            "span): train longer or on more series, or ask for nearer times."
        )
