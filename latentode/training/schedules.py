"""Learning-rate schedules over a training budget of epochs or seconds."""

from __future__ import annotations

import math
import time

import torch

__all__ = ["FINAL_LR_FRACTION", "CosineSchedule"]

#: ``CosineSchedule`` anneals the learning rate to this fraction of ``lr``.
FINAL_LR_FRACTION = 0.01


class CosineSchedule:
    """Sets the learning rate before each step to ``lr · (f + (1 - f)(1 + cos πp) / 2)``.

    ``p`` is the fraction of the training budget spent, capped at 1: steps taken over
    ``max_epochs · steps_per_epoch`` or, when ``seconds`` is set, the wall-clock time since
    the first step over ``seconds``, whichever is larger; ``f`` is
    :data:`FINAL_LR_FRACTION`.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        lr: float,
        *,
        max_epochs: int,
        steps_per_epoch: int,
        seconds: float | None,
    ) -> None:
        self.optimizer = optimizer
        self.lr = lr
        self.total_steps = max_epochs * steps_per_epoch
        self.steps_per_epoch = steps_per_epoch
        self.seconds = seconds
        self._start: float | None = None
        self._epoch = 0
        self._step_in_epoch = 0

    def update(self, epoch: int) -> None:
        now = time.perf_counter()
        self._start = now if self._start is None else self._start
        if epoch != self._epoch:
            self._epoch, self._step_in_epoch = epoch, 0
        steps = (epoch - 1) * self.steps_per_epoch + self._step_in_epoch
        self._step_in_epoch += 1
        progress = steps / self.total_steps
        if self.seconds is not None:
            progress = max(progress, (now - self._start) / self.seconds)
        factor = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        lr = self.lr * (FINAL_LR_FRACTION + (1.0 - FINAL_LR_FRACTION) * factor)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
