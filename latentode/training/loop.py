"""The fit loop shared by every estimator."""

from __future__ import annotations

import dataclasses
import logging
import math
import pickle
import random
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from latentode.exceptions import ModelFileError, NonFiniteLossError, SolverError
from latentode.nn.solve import translate_solver_errors
from latentode.training.callbacks import Callback
from latentode.training.distributed import any_rank, data_parallel, world

__all__ = ["Trainer", "TrainingParts"]

logger = logging.getLogger(__name__)

#: ``step(batch, epoch) -> metrics``; ``metrics["loss"]`` is the tensor to minimise, other
#: entries are floats averaged over the epoch (weighted by ``metrics.get("weight", 1)``).
StepFn = Callable[[Any, int], dict[str, Any]]


@dataclasses.dataclass
class TrainingParts:
    """What an estimator's training module hands to the :class:`Trainer`.

    ``step(batch, epoch) -> metrics`` computes one batch's loss; ``batches(epoch)`` yields
    the epoch's batches; ``validate(epoch)`` (optional) the validation metrics;
    ``generators`` are the random streams the steps draw from (saved in checkpoints).
    """

    optimizer: torch.optim.Optimizer
    step: StepFn
    batches: Callable[[int], Iterable[Any]]
    validate: Callable[[int], dict[str, float]] | None = None
    scheduler: Any = None
    generators: dict[str, torch.Generator] = dataclasses.field(default_factory=dict)
    #: What the trainer optimises and checkpoints, when it is not the estimator's module
    #: itself (e.g. the module together with learned shooting nodes).
    model: torch.nn.Module | None = None
    #: In a process group, ``step`` computes only this process's share of each batch and
    #: returns that share's part of the loss (see :mod:`latentode.training.distributed`);
    #: otherwise every process computes every batch.
    sharded: bool = False


class Trainer:
    """Runs epochs of optimisation with callbacks; can save and resume its whole state.

    Parameters
    ----------
    model : torch.nn.Module
    optimizer : torch.optim.Optimizer
    train_step : StepFn
        Computes the loss (and metrics) of one batch.
    train_batches : callable
        ``train_batches(epoch) -> iterable of batches``.
    validate : callable, optional
        ``validate(epoch) -> dict of float metrics`` (prefixed ``val_`` by convention).
    callbacks : sequence of Callback
    max_epochs : int
    clip_grad_norm : float or None
    after_backward : callable, optional
        ``after_backward() -> dict of float metrics`` read after each backward pass (e.g.
        the adjoint's backward function evaluations).
    sharded : bool
        See :attr:`TrainingParts.sharded`.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        train_step: StepFn,
        train_batches: Callable[[int], Iterable[Any]],
        *,
        validate: Callable[[int], dict[str, float]] | None = None,
        callbacks: Sequence[Callback] = (),
        max_epochs: int = 100,
        clip_grad_norm: float | None = 10.0,
        scheduler: Any = None,
        after_backward: Callable[[], dict[str, float]] | None = None,
        sharded: bool = False,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.train_step = train_step
        self.train_batches = train_batches
        self.validate = validate
        self.callbacks = list(callbacks)
        self.max_epochs = max_epochs
        self.clip_grad_norm = clip_grad_norm
        self.scheduler = scheduler
        self.after_backward = after_backward
        #: The process group of a data-parallel fit (None in one process): steps then run
        #: through DDP and stopping decisions are shared (see
        #: :mod:`latentode.training.distributed`).
        self.world = world()
        self.sharded = sharded and self.world is not None
        self._step = data_parallel(model, train_step) if self.sharded else train_step
        #: Generators the step functions draw from; saved in checkpoints so that a resumed
        #: fit draws the same batches and noise as an uninterrupted one.
        self.generators: dict[str, torch.Generator] = {}
        self.owner: Any = None
        self.data_summary: dict[str, Any] = {}
        self.epoch = 0
        self.best_epoch: int | None = None
        self.history: list[dict[str, Any]] = []
        self.stop = False
        #: True once the epochs ran to their end (not stopped by an exception).
        self.completed = False
        # A trainer is one fit: callbacks shared between fits start afresh (a resume then
        # loads their saved state over this).
        for cb in self.callbacks:
            cb.reset()

    # -- one epoch -----------------------------------------------------------------------
    def _run_epoch(self, epoch: int) -> dict[str, Any]:
        self.model.train()
        sums: dict[str, float] = {}
        weight_total = 0.0
        for i, batch in enumerate(self.train_batches(epoch)):
            try:
                with translate_solver_errors():
                    metrics = self._step(batch, epoch)
                    loss = metrics.pop("loss")
                    # in a process group the step reports the whole batch's loss
                    # ("train_loss"), the same on every process, so all stop together
                    reported = metrics.setdefault("train_loss", loss.detach())
                    if not math.isfinite(float(reported)):
                        raise NonFiniteLossError(
                            f"The training loss became {float(reported)} at epoch {epoch}, "
                            f"batch {i}. Lower the learning rate ('lr'), tighten the solver "
                            "tolerances or check the data scale."
                        )
                    self.optimizer.zero_grad(set_to_none=True)
                    # DDP averages gradients; a process's loss is its share of the batch's
                    (loss * self.world.size if self.sharded and self.world else loss).backward()
            except SolverError as exc:
                raise type(exc)(f"At epoch {epoch}, batch {i}: {exc}") from exc
            if self.after_backward is not None:
                metrics.update(self.after_backward())
            if self.clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
            self.optimizer.step()
            weight = float(metrics.pop("weight", 1.0))
            weight_total += weight
            for key, value in metrics.items():
                sums[key] = sums.get(key, 0.0) + weight * float(value)
        if self.scheduler is not None:
            self.scheduler.step()
        return {k: v / max(weight_total, 1e-12) for k, v in sums.items()}

    def fit(self) -> Trainer:
        """Train from the current epoch until ``max_epochs`` or a callback stops."""
        self.stop = False
        self.completed = False
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            while self.epoch < self.max_epochs and not self.stop:
                epoch = self.epoch + 1
                start = time.perf_counter()
                logs: dict[str, Any] = {"epoch": epoch}
                logs.update(self._run_epoch(epoch))
                if self.validate is not None:
                    self.model.eval()
                    logs.update(self.validate(epoch))
                logs["seconds"] = time.perf_counter() - start
                for key, value in logs.items():
                    if isinstance(value, float) and math.isnan(value):
                        raise NonFiniteLossError(f"Metric '{key}' is NaN at epoch {epoch}.")
                self.epoch = epoch
                self.history.append(logs)
                for cb in self.callbacks:
                    cb.on_epoch_end(self, logs)
                if self.world is not None:  # e.g. max_time runs out at different moments
                    self.stop = any_rank(self.stop)
            self.completed = True
        finally:
            for cb in self.callbacks:
                cb.on_fit_end(self)
        self.model.eval()
        return self

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "epoch": self.epoch,
            "history": self.history,
            "callbacks": [cb.state_dict() for cb in self.callbacks],
            "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
            "generators": {k: g.get_state() for k, g in self.generators.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = state["epoch"]
        self.history = list(state["history"])
        for cb, cb_state in zip(self.callbacks, state["callbacks"]):
            cb.load_state_dict(cb_state)
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        for name, gen_state in state.get("generators", {}).items():
            if name in self.generators:
                self.generators[name].set_state(gen_state)

    def resume(self, path: str | Path) -> Trainer:
        """Load a checkpoint written by :class:`~latentode.training.callbacks.Checkpoint`.

        Raises
        ------
        ModelFileError
            If there is no checkpoint at ``path``, it cannot be read, or it was written for
            a model of other parameters or data (names the first mismatching key).
        """
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"No checkpoint at '{path}'.")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
            raise ModelFileError(
                f"The checkpoint '{path}' cannot be read ({type(exc).__name__}: "
                f"{_first_line(exc)}). It is truncated or not a latentode checkpoint; fit "
                "without resume to start over."
            ) from exc
        mismatch = _first_mismatch(self.model.state_dict(), state)
        if mismatch is None:
            try:
                self.load_state_dict(state)
            except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
                mismatch = f"{type(exc).__name__}: {_first_line(exc)}"
        if mismatch is not None:
            raise ModelFileError(
                f"The checkpoint '{path}' was written with other parameters or data "
                f"({mismatch}). Resume with the parameters and data it was written with, or "
                "fit without resume (or with another checkpoint_dir) to start over."
            )
        logger.info("resumed from %s at epoch %d", path, self.epoch)
        return self


def _first_mismatch(model: dict[str, torch.Tensor], state: Any) -> str | None:
    """The first key of ``model`` (a state dict) that the checkpoint ``state`` does not match."""
    saved = state.get("model") if isinstance(state, dict) else None
    if not isinstance(saved, dict):
        return "it holds no model state"
    for key, tensor in model.items():
        if key not in saved:
            return f"first mismatching key: '{key}' is in the model but not in the checkpoint"
        theirs = getattr(saved[key], "shape", None)
        if theirs is None or tuple(theirs) != tuple(tensor.shape):
            here = tuple(tensor.shape)
            there = "no tensor" if theirs is None else tuple(theirs)
            return (
                f"first mismatching key: '{key}' has shape {here} here but {there} in the "
                "checkpoint"
            )
    for key in saved:
        if key not in model:
            return f"first mismatching key: '{key}' is in the checkpoint but not in the model"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""
