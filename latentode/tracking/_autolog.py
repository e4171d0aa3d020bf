"""``autolog()``: track every fit of every latentode estimator with :class:`MLflowCallback`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from latentode.tracking._callback import MLflowCallback
from latentode.training import add_global_callback, remove_global_callback

__all__ = ["autolog"]

logger = logging.getLogger(__name__)


@dataclass
class _Settings:
    experiment_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    log_plots: bool = True


_SETTINGS = _Settings()


def _factory(estimator: Any) -> MLflowCallback | None:
    """The global callback factory: one :class:`MLflowCallback` per fit.

    An estimator that already carries its own ``MLflowCallback`` is left to it.
    """
    own = getattr(estimator, "callbacks", None) or ()
    if any(isinstance(cb, MLflowCallback) for cb in own):
        return None
    return MLflowCallback(
        experiment_name=_SETTINGS.experiment_name,
        tags=dict(_SETTINGS.tags),
        log_plots=_SETTINGS.log_plots,
    )


def autolog(
    *,
    disable: bool = False,
    experiment_name: str | None = None,
    tags: dict[str, str] | None = None,
    log_plots: bool = True,
) -> None:
    """Track every subsequent ``fit`` of every latentode estimator in MLflow.

    Each fit gets a run with hyper-parameters, data summary, per-epoch metrics (losses,
    MSE, KL, forward / backward NFE, seconds), final metrics and plots (see
    :class:`MLflowCallback`). It hooks in through
    :func:`latentode.training.add_global_callback`, so the training loop never imports
    MLflow. Calling it again replaces the settings.

    Parameters
    ----------
    disable : bool, default=False
        Stop tracking fits.
    experiment_name : str, optional
        Experiment of the runs (default: MLflow's current experiment).
    tags : dict of str to str, optional
        Tags added to every run.
    log_plots : bool, default=True

    Notes
    -----
    A tracking failure warns (:class:`~latentode.tracking.TrackingWarning`) and never stops
    the fit. To log the fitted model in the same run, call :func:`log_model` after ``fit``.
    Forecast plots need the data: pass ``MLflowCallback(data=df)`` in ``callbacks``.

    Examples
    --------
    >>> from latentode.tracking import autolog, log_model  # doctest: +SKIP
    >>> autolog()                                           # doctest: +SKIP
    >>> est = LatentODEForecaster().fit(df)                 # doctest: +SKIP
    >>> log_model(est, registered_model_name="demand")      # doctest: +SKIP
    """
    if disable:
        remove_global_callback(_factory)
        logger.info("latentode MLflow autologging disabled")
        return
    _SETTINGS.experiment_name = experiment_name
    _SETTINGS.tags = dict(tags or {})
    _SETTINGS.log_plots = log_plots
    add_global_callback(_factory)
    logger.info("latentode MLflow autologging enabled")
