"""How ``LatentODEForecaster`` trains: the objective and the parts of its fit loop.

Functions of the module, the padded series and a frozen :class:`LatentTraining` config —
no estimator object — so they can be read, tested and reused on their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import torch

from latentode.batch import IrregularBatch
from latentode.estimators._seeds import generator
from latentode.estimators._tensors import PaddedSeries
from latentode.models._context import ContextConfig, random_context
from latentode.nn.solve import NFECounter
from latentode.training import TrainingParts

__all__ = ["LatentTraining", "objective", "training_parts"]


@dataclasses.dataclass(frozen=True)
class LatentTraining:
    """The training settings of a forecaster (see its parameters of the same names)."""

    lr: float
    lr_decay: float
    batch_size: int
    n_train_samples: int
    bound: str
    kl_warmup_epochs: int
    context: ContextConfig

    @classmethod
    def from_params(cls, params: Any) -> LatentTraining:
        return cls(
            lr=params.lr,
            lr_decay=params.lr_decay,
            batch_size=params.batch_size,
            n_train_samples=params.n_train_samples,
            bound=params.bound,
            kl_warmup_epochs=params.kl_warmup_epochs,
            context=ContextConfig(
                params.extrap_prob, params.min_prefix, params.context_dropout, params.value_dropout
            ),
        )

    def kl_weight(self, epoch: int) -> float:
        """KL weight of ``epoch`` (1-based): rises linearly from 0 over the warm-up."""
        if self.kl_warmup_epochs == 0:
            return 1.0
        return min(1.0, (epoch - 1) / self.kl_warmup_epochs)

    @property
    def eval_batch_size(self) -> int:
        return max(self.batch_size, 256)


def training_parts(
    module: torch.nn.Module,
    train: PaddedSeries,
    val: PaddedSeries | None,
    config: LatentTraining,
    seed: int,
    device: torch.device,
) -> TrainingParts:
    """Optimizer, step, batches and validation of one forecaster fit."""
    noise = generator(seed, "train_noise", device)
    order = generator(seed, "batches")
    optimizer = torch.optim.Adam(module.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_decay)
    counters = component_counters(module)

    def step(index: torch.Tensor, epoch: int) -> dict[str, Any]:
        for counter in counters.values():
            counter.reset()
        with train.naming(index):
            metrics = objective(module, train.batch(index), config, config.kl_weight(epoch), noise)
        for name, counter in counters.items():
            metrics[name] = float(counter.forward)
        return metrics

    def batches(epoch: int) -> Iterator[torch.Tensor]:
        return train.batches(config.batch_size, order, shuffle=True)

    return TrainingParts(
        optimizer,
        step,
        batches,
        None if val is None else validator(module, val, config, seed, device),
        scheduler,
        {"noise": noise, "batches": order},
    )


def validator(
    module: torch.nn.Module,
    val: PaddedSeries,
    config: LatentTraining,
    seed: int,
    device: torch.device,
) -> Any:
    """``validate(epoch)``: the loss and MSE per observed value of the validation series,
    with the full KL weight and the same noise every epoch."""

    def validate(epoch: int) -> dict[str, float]:
        gen = generator(seed, "validation", device)
        total = sq = obs = 0.0
        with torch.no_grad():
            for index, batch in val.chunks(config.eval_batch_size):
                with val.naming(index):
                    m = objective(module, batch, config, 1.0, gen)
                total += float(m["loss"]) * m["weight"]
                sq += m["train_mse"] * m["weight"]
                obs += m["weight"]
        return {"val_loss": total / obs, "val_mse": sq / obs}

    return validate


def component_counters(module: torch.nn.Module) -> dict[str, NFECounter]:
    """Evaluation counters, reported per epoch as forward evaluations per batch:
    ``nfe_forward`` (the decoder; ``nfe_backward`` is read after the backward pass),
    ``nfe_encoder`` (ODE-RNN encoder) and ``nfe_flow`` (FFJORD posterior) where present."""
    found = {
        "nfe_forward": getattr(module, "counter", None),
        "nfe_encoder": getattr(getattr(module, "encoder", None), "counter", None),
        "nfe_flow": getattr(
            getattr(getattr(module, "posterior", None), "flow", None), "counter", None
        ),
    }
    return {name: c for name, c in found.items() if isinstance(c, NFECounter)}


def objective(
    module: Any,
    batch: IrregularBatch,
    config: LatentTraining,
    kl_weight: float,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Loss (negative bound per observed value) and metrics of one training batch: the
    encoder sees a random context of ``batch`` and the whole of ``batch`` is reconstructed."""
    context = random_context(batch, config.context, generator)
    terms = module.bound_terms(context, batch, config.n_train_samples, generator=generator)
    bound = terms.iwae() if config.bound == "iwae" else terms.elbo(kl_weight)
    # A batch may hold no target at all (ODE-RNN: one-observation series have nothing to
    # predict from earlier context); its loss is then 0, not 0/0.
    n_obs = terms.n_obs.sum().clamp(min=1.0)
    extra: dict[str, float] = {}
    loss = -bound.sum() / n_obs
    if terms.penalty is not None:  # FFJORD posterior's kinetic / Jacobian regulariser
        penalty = terms.penalty.mean(0).sum() / n_obs
        loss = loss + penalty
        extra["flow_penalty"] = float(penalty.detach())
    return {
        **extra,
        "loss": loss,
        "train_mse": float(terms.sq_err.detach().sum() / n_obs),
        "kl": float(terms.kl.detach().mean()),
        "weight": float(n_obs),
    }
