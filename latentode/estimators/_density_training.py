"""How ``FFJORDDensity`` trains: the negative log-likelihood step, batches and validation.

A function of the estimator (``est``) rather than a method, to keep the estimator module
an orchestration of small steps (as ``_latent_training`` and ``_dynamics_training``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch

from latentode.training import Trainer
from latentode.training.schedules import CosineSchedule

__all__ = ["make_trainer"]

#: Rows per validation chunk.
CHUNK = 8192


def make_trainer(est: Any, train: torch.Tensor, val: torch.Tensor | None) -> Trainer:
    """The trainer of ``est.module_`` on standardised rows ``train`` (and ``val``)."""
    module = est.module_
    generator = torch.Generator(device=est.device_).manual_seed(est.seed_)
    cpu_generator = torch.Generator().manual_seed(est.seed_ + 1)
    optimizer = torch.optim.AdamW(module.parameters(), lr=est.lr, weight_decay=est.weight_decay)
    penalised = est.kinetic_weight > 0 or est.jacobian_weight > 0
    schedule = None
    if est.lr_schedule == "cosine":
        schedule = CosineSchedule(
            optimizer,
            est.lr,
            max_epochs=est.max_epochs,
            steps_per_epoch=math.ceil(train.shape[0] / est.batch_size),
            seconds=est.max_time,
        )

    def step(index: torch.Tensor, epoch: int) -> dict[str, Any]:
        if schedule is not None:
            schedule.update(epoch)
        module.counter.reset()
        logp, out = est._log_density(train[index.to(est.device_)], generator)
        nll = -logp.mean()
        loss = nll
        metrics: dict[str, Any] = {"train_nll": float(nll.detach())}
        if penalised:
            kinetic, frobenius = out.kinetic.mean(), out.frobenius.mean()
            loss = loss + est.kinetic_weight * kinetic + est.jacobian_weight * frobenius
            metrics.update(kinetic=float(kinetic.detach()), frobenius=float(frobenius.detach()))
        metrics.update(
            loss=loss, nfe_forward=float(module.counter.forward), weight=float(len(index))
        )
        return metrics

    def batches(epoch: int) -> Iterator[torch.Tensor]:
        order = torch.randperm(train.shape[0], generator=cpu_generator)
        return iter(order.split(est.batch_size))

    def validate(epoch: int) -> dict[str, float]:
        gen = torch.Generator(device=est.device_).manual_seed(est.seed_ + 2)
        with torch.no_grad():
            total = sum(float(est._log_density(chunk, gen)[0].sum()) for chunk in val.split(CHUNK))
        return {"val_loss": -total / val.shape[0]}

    n_val = 0 if val is None else val.shape[0]
    return est._trainer(
        module,
        optimizer,
        step,
        batches,
        validate if val is not None else None,
        counter=module.counter,
        data_summary={
            "n_samples": train.shape[0] + n_val,
            "n_train_samples": train.shape[0],
            "n_val_samples": n_val,
            "n_features": est.n_features_in_,
        },
    )
