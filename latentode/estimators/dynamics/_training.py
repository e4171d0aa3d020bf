"""How ``NeuralODEDynamics`` trains: warm start, windowed multiple shooting, validation.

Functions of the module, the trajectories and a frozen :class:`ShootingTraining` config.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any

import torch

from latentode.data import IrregularDataset
from latentode.estimators._seeds import generator
from latentode.estimators._tensors import PaddedSeries
from latentode.estimators.dynamics._inputs import CHUNK, arrays, window_starts
from latentode.models.dynamics import (
    MultipleShooting,
    ODEDynamics,
    WindowBatch,
    collocation_warm_start,
    gather_windows,
    padded_fills,
    secant_targets,
)
from latentode.training import TrainingParts

__all__ = ["ShootingTraining", "training_parts", "validator", "warm_start"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ShootingTraining:
    """The training settings of a dynamics fit (see its parameters of the same names)."""

    window_size: int
    learn_initial_states: bool
    warm_start_steps: int
    lr: float
    lr_decay: float
    batch_size: int

    @classmethod
    def from_params(cls, params: Any) -> ShootingTraining:
        return cls(
            window_size=params.window_size,
            learn_initial_states=params.learn_initial_states,
            warm_start_steps=params.warm_start_steps,
            lr=params.lr,
            lr_decay=params.lr_decay,
            batch_size=params.batch_size,
        )


def warm_start(
    module: ODEDynamics, train: IrregularDataset, config: ShootingTraining, seed: int
) -> None:
    """Fit the field to secant slopes (gradient matching) before shooting."""
    mse = collocation_warm_start(
        module,
        secant_targets(arrays(train)),
        steps=config.warm_start_steps,
        lr=config.lr,
        generator=generator(seed, "warm_start"),
    )
    logger.info("warm start on secant slopes: relative MSE %.4g", mse)


def training_parts(
    module: ODEDynamics,
    train: IrregularDataset,
    val: IrregularDataset | None,
    config: ShootingTraining,
    seed: int,
    device: torch.device,
) -> TrainingParts:
    """Optimizer, step, batches and validation of multiple shooting over ``train``."""
    padded = PaddedSeries(train, device)
    fills = padded_fills(arrays(train), device)
    objective = MultipleShooting(module, fills, config.learn_initial_states)
    windows = window_starts(train.lengths, stride=1, device=device)
    order = generator(seed, "batches")
    groups = [{"params": list(module.parameters()), "lr": config.lr}]
    if config.learn_initial_states:
        # Each node is updated once per epoch; a smaller step keeps Adam's momentum
        # from carrying it far past the noise level between its updates.
        groups.append({"params": [objective.nodes], "lr": 0.1 * config.lr})
    optimizer = torch.optim.Adam(groups)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_decay)
    width = config.window_size

    def step(index: torch.Tensor, epoch: int) -> dict[str, Any]:
        module.counter.reset()
        start = windows.index_select(0, index.to(windows.device))
        sq, n = objective(_windows(padded, start, width))
        return {
            "loss": sq / n,
            "weight": float(n),
            "nfe_forward": float(module.counter.forward),
        }

    def batches(epoch: int) -> Iterable[torch.Tensor]:
        return torch.randperm(len(windows), generator=order).split(config.batch_size)

    return TrainingParts(
        optimizer,
        step,
        batches,
        None if val is None else validator(module, val, width, device),
        scheduler,
        {"batches": order},
        model=objective,
    )


def validator(
    module: ODEDynamics, val: IrregularDataset, width: int, device: torch.device
) -> Callable[[int], dict[str, float]]:
    """Held-out loss: windows tiling each trajectory, started from the observations."""
    padded = PaddedSeries(val, device)
    fills = padded_fills(arrays(val), device)
    windows = window_starts(val.lengths, stride=width - 1, device=device)

    def validate(epoch: int) -> dict[str, float]:
        sq = count = 0.0
        with torch.no_grad():
            for index in torch.arange(len(windows)).split(CHUNK):
                start = windows[index]
                batch = _windows(padded, start, width)
                batch.mask[:, 0] = 0.0
                z0 = module.lift(fills[start[:, 0], start[:, 1]])
                pred = module.trajectory(z0, batch.times)[..., : fills.shape[-1]]
                sq += float(((pred - batch.values) ** 2 * batch.mask).sum())
                count += float(batch.mask.sum())
        return {"val_loss": sq / max(count, 1.0)}

    return validate


def _windows(padded: PaddedSeries, start: torch.Tensor, width: int) -> WindowBatch:
    """The windows of ``width`` observations at ``start`` ``(N, 2)`` (series, first index)."""
    return gather_windows(
        padded.times, padded.values, padded.mask, padded.lengths, start[:, 0], start[:, 1], width
    )
