"""``MLflowCallback``: track one fit (params, data, per-epoch metrics, plots) in an MLflow run."""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from typing import TYPE_CHECKING, Any

from latentode.tracking._guard import TrackingGuard
from latentode.tracking._runs import remember_run
from latentode.training import Callback

if TYPE_CHECKING:
    from latentode.training import Trainer

__all__ = ["MLflowCallback"]

logger = logging.getLogger(__name__)

_MAX_PARAM_CHARS = 6000
_NOT_PARAMS = frozenset({"callbacks"})


class MLflowCallback(Callback):
    """Track a fit in an MLflow run.

    Each fit gets its own run (nested under the active run, if any, so a grid search logs
    one child run per fit). Logged:

    * params: the estimator's hyper-parameters, its class, and the data summary
      (``data.n_series``, ``data.n_observations``, ``data.time_span``,
      ``data.missing_fraction``, ...; also as ``data_summary.json``);
    * metrics per epoch (``step`` = epoch): ``train_loss``, ``train_mse``, ``kl``,
      ``nfe_forward``, ``nfe_backward``, ``val_loss``, ``val_mse``, ``seconds``;
    * final metrics: ``final_<metric>`` of the epoch whose weights were kept (the best one
      under early stopping), ``n_epochs``, ``best_epoch``, ``fit_seconds``,
      ``nfe_forward_total``, ``nfe_backward_total``;
    * plots: ``plots/training.png`` (losses, NFE), at the end of the training loop; once
      the estimator is fitted (:meth:`on_estimator_fitted`, after a forecaster's noise
      calibration, so the band drawn is the one served): ``plots/forecast_<feature>.png``
      (forecaster, when ``data`` is given), ``plots/phase.png`` (dynamics),
      ``plots/density.png`` (2-feature density estimator);
    * a forecaster's noise calibration: ``noise_calibration.json`` (its
      ``noise_calibration_``) and metrics ``calibrated_std_<feature>``;
    * ``data`` (when given) as an MLflow dataset input with context ``"training"``.

    A tracking failure (store unreachable, disk full, ...) emits one
    :class:`~latentode.tracking.TrackingWarning` and switches tracking off for the rest of
    the fit; the fit itself always goes on.

    Parameters
    ----------
    experiment_name : str, optional
        Experiment of the run (created if needed). Default: the active run's experiment,
        else MLflow's current one (``mlflow.set_experiment`` / ``MLFLOW_EXPERIMENT_NAME``).
    run_name : str, optional
        Default: ``"<EstimatorClass>-fit"``.
    tags : dict of str to str, optional
        Extra run tags.
    data : frame, optional
        The training frame (or a sample of it): logged as the run's dataset input and
        drawn in the plots (forecast plots need it).
    log_plots : bool, default=True
    plot_series : int, default=4
        Series shown in the forecast / phase plot.

    Notes
    -----
    The tracking store is MLflow's: ``MLFLOW_TRACKING_URI`` or ``mlflow.set_tracking_uri``;
    MLflow 3's default is ``sqlite:///mlflow.db`` in the working directory.

    Examples
    --------
    >>> est = LatentODEForecaster(callbacks=[MLflowCallback(data=df)])  # doctest: +SKIP
    >>> est.fit(df)                                                       # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        experiment_name: str | None = None,
        run_name: str | None = None,
        tags: dict[str, str] | None = None,
        data: Any = None,
        log_plots: bool = True,
        plot_series: int = 4,
    ) -> None:
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.tags = tags
        self.data = data
        self.log_plots = log_plots
        self.plot_series = plot_series
        self.run_id: str | None = None
        self._guard = TrackingGuard(type(self).__name__)
        self._client: Any = None
        self._started = 0.0
        #: The run of the last successful fit, until its estimator reports it is fitted.
        self._fitted_run_id: str | None = None

    # ------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: Trainer) -> None:
        self._guard = TrackingGuard(type(self).__name__)
        self.run_id = None
        self._fitted_run_id = None
        self._started = time.time()
        run_id = self._guard.call("starting a run", self._start_run, trainer)
        if run_id is None:
            return
        self.run_id = run_id
        if trainer.owner is not None:
            remember_run(trainer.owner, run_id)
        self._guard.call("logging parameters", self._log_params, trainer)
        if self.data is not None:
            self._guard.call("logging the dataset input", self._log_input)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if self.run_id is None:
            return
        step = int(logs.get("epoch", trainer.epoch))
        metrics = {k: v for k, v in logs.items() if k != "epoch" and _is_number(v)}
        self._guard.call("logging epoch metrics", self._log_metrics, self.run_id, metrics, step)

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.run_id is None:
            return
        run_id = self.run_id
        failed = sys.exc_info()[0] is not None
        if trainer.history:
            self._guard.call("logging final metrics", self._log_final, trainer)
        if self.log_plots and not failed:
            from latentode.tracking import _plots

            history = trainer.history
            self._log_figures(
                run_id, {"plots/training.png": lambda: _plots.training_figure(history)}
            )
        self._end_run("FAILED" if failed else "FINISHED")
        # The estimator's post-fit step (noise calibration) has not run yet: what depends on
        # it is logged to this (ended) run by on_estimator_fitted.
        self._fitted_run_id = None if failed or trainer.owner is None else run_id

    def on_estimator_fitted(self, estimator: Any) -> None:
        run_id, self._fitted_run_id = self._fitted_run_id, None
        if run_id is None:
            return
        self._guard.call("logging the noise calibration", self._log_calibration, run_id, estimator)
        if not self.log_plots:
            return
        from latentode.tracking import _plots

        figures = self._plot_guard().call(
            "choosing plots", _plots.figures_for, estimator, self.data, self.plot_series
        )
        self._log_figures(run_id, figures or {})

    # ------------------------------------------------------------------ steps
    def _start_run(self, trainer: Trainer) -> str:
        import mlflow
        from mlflow import MlflowClient

        self._client = MlflowClient()
        parent = mlflow.active_run()
        # A child run stays in its parent's experiment unless told otherwise.
        experiment_id = None if parent is None else parent.info.experiment_id
        if self.experiment_name is not None:
            found = self._client.get_experiment_by_name(self.experiment_name)
            experiment_id = (
                found.experiment_id
                if found is not None
                else self._client.create_experiment(self.experiment_name)
            )
        owner = type(trainer.owner).__name__ if trainer.owner is not None else "Trainer"
        tags = {"latentode.estimator": owner, **library_versions(), **(self.tags or {})}
        run = mlflow.start_run(
            experiment_id=experiment_id,
            run_name=self.run_name or f"{owner}-fit",
            nested=parent is not None,
            tags=tags,
        )
        return run.info.run_id

    def _log_params(self, trainer: Trainer) -> None:
        from mlflow.entities import Param

        params: dict[str, Any] = {}
        if trainer.owner is not None:
            params["estimator_class"] = type(trainer.owner).__name__
            for key, value in trainer.owner.get_params(deep=False).items():
                if key not in _NOT_PARAMS:
                    params[key] = value
        summary = dict(trainer.data_summary or {})
        for key, value in summary.items():
            params[f"data.{key}"] = ",".join(map(str, value)) if isinstance(value, list) else value
        entities = [Param(k, str(v)[:_MAX_PARAM_CHARS]) for k, v in params.items()]
        for start in range(0, len(entities), 100):  # MLflow's batch limit
            self._client.log_batch(self.run_id, params=entities[start : start + 100])
        if summary:
            self._client.log_dict(self.run_id, _jsonable(summary), "data_summary.json")

    def _log_input(self) -> None:
        import mlflow
        import mlflow.data

        from latentode.data import to_pandas

        dataset = mlflow.data.from_pandas(to_pandas(self.data), name="training")
        mlflow.log_input(dataset, context="training")

    def _log_metrics(self, run_id: str, metrics: dict[str, float], step: int | None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        entities = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        if entities:
            self._client.log_batch(run_id, metrics=entities)

    def _log_final(self, trainer: Trainer) -> None:
        history = trainer.history
        kept = trainer.best_epoch or trainer.epoch
        row = next((r for r in history if r.get("epoch") == kept), history[-1])
        final = {f"final_{k}": v for k, v in row.items() if k != "epoch" and _is_number(v)}
        final["n_epochs"] = float(trainer.epoch)
        final["best_epoch"] = float(kept)
        final["fit_seconds"] = float(sum(r.get("seconds", 0.0) for r in history))
        for key in ("nfe_forward", "nfe_backward"):
            if any(key in r for r in history):
                final[f"{key}_total"] = float(sum(r.get(key, 0.0) for r in history))
        self._log_metrics(self.run_id, final, None)

    def _log_calibration(self, run_id: str, estimator: Any) -> None:
        from latentode.tracking import _plots

        if _plots.task_of(estimator) != "forecast" or estimator.noise_calibration_ is None:
            return
        calibration = estimator.noise_calibration_
        self._client.log_dict(run_id, _jsonable(calibration), "noise_calibration.json")
        stds = zip(estimator.feature_cols_, calibration["calibrated_std"])
        self._log_metrics(run_id, {f"calibrated_std_{f}": float(s) for f, s in stds}, None)

    def _plot_guard(self) -> TrackingGuard:
        # A figure that cannot be drawn warns but leaves the rest of the tracking on.
        return TrackingGuard(
            f"{type(self).__name__} (plots)",
            "The fit and the rest of its tracking go on; only this plot is missing.",
        )

    def _log_figures(self, run_id: str, figures: dict[str, Any]) -> None:
        """Draw each ``path → make()`` figure and log it to ``run_id``."""
        from latentode.tracking import _plots

        plot_guard = self._plot_guard()
        for path, make in figures.items():
            if self._guard.failed:
                return
            figure = plot_guard.call(f"drawing {path}", make)
            if figure is None:
                continue
            self._guard.call(f"logging {path}", self._client.log_figure, run_id, figure, path)
            _plots.close(figure)

    def _end_run(self, status: str) -> None:
        import mlflow

        run_id, self.run_id = self.run_id, None
        try:
            active = mlflow.active_run()
            if active is not None and active.info.run_id == run_id:
                mlflow.end_run(status)  # pops MLflow's active-run stack even if the store fails
            elif not self._guard.failed:
                self._client.set_terminated(run_id, status)
        except Exception as exc:  # ending a run must not fail the fit either
            if not self._guard.failed:
                self._guard.call("ending the run", _reraise, exc)
        logger.debug(
            "MLflow run %s ended (%s) after %.1f s", run_id, status, time.time() - self._started
        )

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_client"] = None
        return state


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(summary, default=str))


def _reraise(exc: BaseException) -> None:
    raise exc


def library_versions() -> dict[str, str]:
    """Run tags ``versions.<package>`` of the libraries a fit's numbers depend on."""
    import importlib.metadata
    import platform

    tags = {"versions.python": platform.python_version()}
    for package in ("latentode", "torch", "torchdiffeq", "numpy", "scikit-learn", "mlflow"):
        try:
            tags[f"versions.{package}"] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            tags[f"versions.{package}"] = "not installed"
    return tags
