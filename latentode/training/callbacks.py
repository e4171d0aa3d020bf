"""Callbacks of the fit loop: progress, logging, early stopping, time limit, checkpoints.

A callback is any object with some of ``on_fit_start(trainer)``,
``on_epoch_end(trainer, logs)`` and ``on_fit_end(trainer)`` (called by the loop) and
``on_estimator_fitted(estimator)`` (called by the estimator once its post-fit step, e.g. the
noise calibration, is done); tracking back-ends (MLflow) plug in through the same protocol
without the loop importing them.
"""

from __future__ import annotations

import copy
import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from latentode.training.loop import Trainer

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "EpochLogger",
    "ProgressBar",
    "TimeLimit",
    "add_global_callback",
    "global_callbacks",
    "remove_global_callback",
]

logger = logging.getLogger(__name__)


class Callback:
    """Base class: every hook is a no-op.

    During a fit, ``trainer.owner`` is the estimator being fitted and
    ``trainer.data_summary`` a dict describing the training data (series, observations,
    time span, missing fraction).
    """

    def reset(self) -> None:
        """Forget what an earlier fit left behind; called when a new fit is set up
        (before a resume loads the saved state). The same instance can then serve
        several fits."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before the first epoch (also when resuming)."""

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        """Called after each epoch with that epoch's metrics."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once after the last epoch."""

    def on_estimator_fitted(self, estimator: Any) -> None:
        """Called by the estimator after a successful fit, once its post-fit step ran.

        ``on_fit_end`` runs inside the loop, before that step (a forecaster's noise
        calibration): what needs the estimator as it will predict (forecast plots, the
        calibration) belongs here. Not called after a failed fit, nor for a
        :class:`~latentode.training.Trainer` used without an estimator.
        """

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (for resuming)."""


class ProgressBar(Callback):
    """A tqdm bar over the fit showing the latest losses.

    With a time budget (``max_seconds``, the estimators' ``max_time``) the bar counts
    seconds of that budget — a fit under ``max_time=60`` ends when the bar is full, however
    many epochs that is — otherwise epochs of ``max_epochs``. ``disable=None`` shows it
    only on a terminal (not in logs or CI output); the estimators attach one so.
    """

    def __init__(
        self, desc: str = "fit", disable: bool | None = None, max_seconds: float | None = None
    ) -> None:
        self.desc = desc
        self.disable = disable
        self.max_seconds = max_seconds
        self._bar = None
        self._start = 0.0

    def on_fit_start(self, trainer: Trainer) -> None:
        self._start = time.perf_counter()
        budget = self.max_seconds
        timed = budget is not None
        self._bar = tqdm(
            total=float(budget) if budget is not None else trainer.max_epochs,
            initial=0 if timed else trainer.epoch,
            desc=self.desc,
            unit="s" if timed else "epoch",
            disable=self.disable,
            leave=False,
            bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s{postfix}" if timed else None,
        )

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if self._bar is None:
            return
        shown = {k: f"{v:.4g}" for k, v in logs.items() if k in ("train_loss", "val_loss")}
        if self.max_seconds is not None:
            shown = {"epoch": str(logs.get("epoch", trainer.epoch)), **shown}
            elapsed = min(time.perf_counter() - self._start, float(self.max_seconds))
            self._bar.set_postfix(shown, refresh=False)
            self._bar.update(elapsed - self._bar.n)
        else:
            self._bar.set_postfix(shown)
            self._bar.update(1)

    def on_fit_end(self, trainer: Trainer) -> None:
        if self._bar is not None:
            # tqdm skips redraws within ``mininterval`` of the last one: draw the final
            # state before the bar is cleared, so fast fits end on "3/3", not "2/3"
            self._bar.refresh()
            self._bar.close()
            self._bar = None


class EpochLogger(Callback):
    """Logs each epoch's metrics at INFO level through :mod:`logging`."""

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        text = " ".join(f"{k}={v:.5g}" for k, v in logs.items() if isinstance(v, float))
        logger.info("epoch %d %s", logs["epoch"], text)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; keep the best weights.

    At the end of the fit the model's weights are those of the best epoch.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0):
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.reset()

    def reset(self) -> None:
        self.best = float("inf")
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.wait = 0

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        value = logs.get(self.monitor)
        if value is None:
            return
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, logs["epoch"], 0
            self.best_state = copy.deepcopy(trainer.model.state_dict())
        else:
            self.wait += 1
            if self.wait >= self.patience:
                logger.info(
                    "early stopping at epoch %d: %s has not improved for %d epochs (best %.5g "
                    "at epoch %d)",
                    logs["epoch"],
                    self.monitor,
                    self.patience,
                    self.best,
                    self.best_epoch,
                )
                trainer.stop = True

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)
            trainer.best_epoch = self.best_epoch

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.wait = state["wait"]
        self.best_state = state["best_state"]


class TimeLimit(Callback):
    """Stop after ``seconds`` of training (checked at the end of each epoch)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._start = 0.0

    def on_fit_start(self, trainer: Trainer) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if time.perf_counter() - self._start >= self.seconds:
            logger.info("time limit of %.0f s reached at epoch %d", self.seconds, logs["epoch"])
            trainer.stop = True


def atomic_torch_save(obj: Any, path: Path) -> None:
    """Save with ``torch.save`` to a temporary file, then rename over ``path``.

    A crash mid-write leaves the previous file intact. The file gets the permissions the
    umask allows (0o644 under umask 022).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: its file is 0o600 whatever the umask.
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as file:
            torch.save(obj, file)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Checkpoint(Callback):
    """Write the full training state every ``every`` epochs to ``directory/checkpoint.pt``.

    The file holds the model and optimizer states, the epoch, the history, the other
    callbacks' states and the RNG state, so :meth:`Trainer.resume` continues the fit as if
    it had not stopped. Writes are atomic.
    """

    filename = "checkpoint.pt"

    def __init__(self, directory: str | os.PathLike, every: int = 1) -> None:
        self.directory = Path(directory)
        self.every = every

    @property
    def path(self) -> Path:
        return self.directory / self.filename

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if logs["epoch"] % self.every == 0:
            self.save(trainer)

    def on_fit_end(self, trainer: Trainer) -> None:
        # After an exception or an interrupt the weights, optimizer and random state are
        # mid-epoch: keep the last complete epoch's checkpoint instead of overwriting it.
        if trainer.completed:
            self.save(trainer)

    def save(self, trainer: Trainer) -> None:
        atomic_torch_save(trainer.state_dict(), self.path)


#: Factories ``factory(estimator) -> Callback | None`` run at the start of every fit
#: (how ``latentode.tracking.autolog`` attaches itself without the loop importing mlflow).
_GLOBAL_FACTORIES: list[Any] = []


def add_global_callback(factory: Any) -> None:
    """Attach ``factory(estimator) -> Callback | None`` to every subsequent fit."""
    if factory not in _GLOBAL_FACTORIES:
        _GLOBAL_FACTORIES.append(factory)


def remove_global_callback(factory: Any) -> None:
    """Detach a factory added with :func:`add_global_callback` (no error if absent)."""
    if factory in _GLOBAL_FACTORIES:
        _GLOBAL_FACTORIES.remove(factory)


def global_callbacks(estimator: Any) -> list[Callback]:
    """The callbacks the registered factories make for ``estimator``."""
    made = (factory(estimator) for factory in list(_GLOBAL_FACTORIES))
    return [cb for cb in made if cb is not None]
