"""How ``FFJORDDensity`` trains: the negative log-likelihood step, batches and validation.

Functions of the flow, the standardised rows and a frozen :class:`FlowTraining` config.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import torch

from latentode.estimators._seeds import generator
from latentode.estimators.density._flow import log_density
from latentode.nn.cnf import CNF
from latentode.training import TrainingParts
from latentode.training.schedules import CosineSchedule

__all__ = ["CHUNK", "FlowTraining", "training_parts"]

#: Rows per validation / scoring chunk.
CHUNK = 8192


@dataclasses.dataclass(frozen=True)
class FlowTraining:
    """The training settings of a density fit (see its parameters of the same names)."""

    lr: float
    lr_schedule: str
    weight_decay: float
    batch_size: int
    max_epochs: int
    max_time: float | None
    kinetic_weight: float
    jacobian_weight: float

    @classmethod
    def from_params(cls, params: Any) -> FlowTraining:
        return cls(
            lr=params.lr,
            lr_schedule=params.lr_schedule,
            weight_decay=params.weight_decay,
            batch_size=params.batch_size,
            max_epochs=params.max_epochs,
            max_time=params.max_time,
            kinetic_weight=params.kinetic_weight,
            jacobian_weight=params.jacobian_weight,
        )

    @property
    def penalised(self) -> bool:
        return self.kinetic_weight > 0 or self.jacobian_weight > 0


def training_parts(
    module: CNF,
    train: torch.Tensor,
    val: torch.Tensor | None,
    config: FlowTraining,
    *,
    log_scale: float,
    seed: int,
    device: torch.device,
) -> TrainingParts:
    """Optimizer, step, batches and validation of maximum likelihood on rows ``train``."""
    noise = generator(seed, "train_noise", device)
    order = generator(seed, "batches")
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    schedule = None
    if config.lr_schedule == "cosine":
        schedule = CosineSchedule(
            optimizer,
            config.lr,
            max_epochs=config.max_epochs,
            steps_per_epoch=math.ceil(train.shape[0] / config.batch_size),
            seconds=config.max_time,
        )

    def step(index: torch.Tensor, epoch: int) -> dict[str, Any]:
        if schedule is not None:
            schedule.update(epoch)
        module.counter.reset()
        logp, out = log_density(module, train[index.to(device)], log_scale, noise)
        nll = -logp.mean()
        loss = nll
        metrics: dict[str, Any] = {"train_nll": float(nll.detach())}
        if config.penalised:
            kinetic, frobenius = out.kinetic.mean(), out.frobenius.mean()
            loss = loss + config.kinetic_weight * kinetic + config.jacobian_weight * frobenius
            metrics.update(kinetic=float(kinetic.detach()), frobenius=float(frobenius.detach()))
        metrics.update(
            loss=loss, nfe_forward=float(module.counter.forward), weight=float(len(index))
        )
        return metrics

    def batches(epoch: int) -> Iterator[torch.Tensor]:
        return iter(torch.randperm(train.shape[0], generator=order).split(config.batch_size))

    validate = None
    if val is not None:
        rows = val

        def validate(epoch: int) -> dict[str, float]:
            gen = generator(seed, "validation", device)
            with torch.no_grad():
                total = sum(
                    float(log_density(module, chunk, log_scale, gen)[0].sum())
                    for chunk in rows.split(CHUNK)
                )
            return {"val_loss": -total / rows.shape[0]}

    return TrainingParts(
        optimizer, step, batches, validate, None, {"noise": noise, "batches": order}
    )
