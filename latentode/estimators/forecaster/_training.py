"""How ``LatentODEForecaster`` trains: the objective and the parts of its fit loop.

Functions of the module, the padded series and a frozen :class:`LatentTraining` config —
no estimator object — so they can be read, tested and reused on their own.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import torch

from latentode.batch import IrregularBatch
from latentode.estimators._seeds import generator
from latentode.estimators._tensors import PaddedSeries
from latentode.models._context import ContextConfig, random_context
from latentode.nn.solve import NFECounter
from latentode.training import TrainingParts
from latentode.training.distributed import World, all_sum, any_rank, world
from latentode.training.schedules import CosineSchedule

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
    lr_schedule: str = "exponential"
    max_epochs: int = 200
    max_time: float | None = None

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
            lr_schedule=params.lr_schedule,
            max_epochs=int(params.max_epochs),
            max_time=params.max_time,
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
    scheduler: Any = None
    cosine: CosineSchedule | None = None
    if config.lr_schedule == "cosine":  # annealed over the budget, step by step
        cosine = CosineSchedule(
            optimizer,
            config.lr,
            max_epochs=config.max_epochs,
            steps_per_epoch=math.ceil(int(train.lengths.shape[0]) / config.batch_size),
            seconds=config.max_time,
        )
    else:
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_decay)
    counters = component_counters(module)
    group = world()

    def step(index: torch.Tensor, epoch: int) -> dict[str, Any]:
        if cosine is not None:
            cosine.update(epoch)
        for counter in counters.values():
            counter.reset()
        with train.naming(index):
            metrics = objective(
                module, train.batch(index), config, config.kl_weight(epoch), noise, group
            )
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
        sharded=True,
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

    group = world()

    def validate(epoch: int) -> dict[str, float]:
        gen = generator(seed, "validation", device)
        total = sq = obs = 0.0
        with torch.no_grad():
            for index, batch in val.chunks(config.eval_batch_size):
                with val.naming(index):
                    m = objective(module, batch, config, 1.0, gen, group)
                total += float(m.get("train_loss", m["loss"])) * m["weight"]
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


def _posterior_noise(
    module: Any, batch: IrregularBatch, n_samples: int, generator: torch.Generator
) -> torch.Tensor | None:
    """The posterior's base noise ``(S, B, latent_dim)`` for the whole batch, drawn as the
    posterior itself would draw it (same generator, shape and dtype), or None for models
    without a posterior (the ODE-RNN)."""
    posterior = getattr(module, "posterior", None)
    if posterior is None:
        return None
    return torch.randn(
        (n_samples, batch.n_series, posterior.latent_dim),
        generator=generator,
        device=batch.device,
        dtype=batch.values.dtype,
    )


def objective(
    module: Any,
    batch: IrregularBatch,
    config: LatentTraining,
    kl_weight: float,
    generator: torch.Generator,
    world: World | None = None,
) -> dict[str, Any]:
    """Loss (negative bound per observed value) and metrics of one training batch: the
    encoder sees a random context of ``batch`` and the whole of ``batch`` is reconstructed.

    In a process group (``world``) the random context and posterior noise are drawn for the
    whole batch on every process, each process computes its share of the series
    (``world.rows``), and ``loss`` is that share's part of the batch loss; the metrics
    (``train_loss`` among them) are the whole batch's, reduced across processes.
    """
    context = random_context(batch, config.context, generator)
    eps = _posterior_noise(module, batch, config.n_train_samples, generator)
    target = batch
    if world is not None:
        rows = world.rows(batch.n_series, device=batch.device)
        context, target = context.select(rows), batch.select(rows)
        eps = None if eps is None else eps[:, rows]
        if len(rows) == 0:  # fewer series than processes: this one only joins the reduction
            loss = sum(p.sum() for p in module.parameters()) * 0.0
            return _reduced(loss, [0.0] * 6, batch, config, world, penalty=False)
    terms = module.bound_terms(
        context,
        target,
        config.n_train_samples,
        generator=generator,
        eps=eps,
        reduce=None if world is None else all_sum,
    )
    bound = terms.iwae() if config.bound == "iwae" else terms.elbo(kl_weight)
    neg_bound = -bound.sum()
    penalty = None if terms.penalty is None else terms.penalty.mean(0).sum()
    latent_nll = None if terms.latent_nll is None else terms.latent_nll.mean(0).sum()
    if world is None:
        # A batch may hold no target at all (ODE-RNN: one-observation series have nothing
        # to predict from earlier context); its loss is then 0, not 0/0.
        n_obs = terms.n_obs.sum().clamp(min=1.0)
        extra: dict[str, float] = {}
        loss = neg_bound / n_obs
        if penalty is not None:  # FFJORD posterior's kinetic / Jacobian regulariser
            loss = loss + penalty / n_obs
            extra["flow_penalty"] = float(penalty.detach() / n_obs)
        if latent_nll is not None:  # the anchored head's latent-path term
            loss = loss + latent_nll / n_obs
            extra["latent_nll"] = float(latent_nll.detach() / n_obs)
        return {
            **extra,
            "loss": loss,
            "train_mse": float(terms.sq_err.detach().sum() / n_obs),
            "kl": float(terms.kl.detach().mean()),
            "weight": float(n_obs),
        }
    parts = [
        float(terms.n_obs.sum()),
        float(neg_bound.detach()),
        0.0 if penalty is None else float(penalty.detach()),
        float(terms.sq_err.detach().sum()),
        float(terms.kl.detach().sum()),
        float(terms.kl.numel()),
    ]
    total = neg_bound if penalty is None else neg_bound + penalty
    if latent_nll is not None:  # part of the training loss, beside the bound
        total = total + latent_nll
        parts[1] += float(latent_nll.detach())
    return _reduced(total, parts, batch, config, world, penalty=penalty is not None)


def _reduced(
    share_total: torch.Tensor,
    parts: list[float],
    batch: IrregularBatch,
    config: LatentTraining,
    world: World,
    *,
    penalty: bool,
) -> dict[str, Any]:
    """The whole batch's metrics from each process's ``parts`` (observations, negative
    bound, penalty, squared error, KL sum, KL count), and this process's loss share."""
    n_obs, neg_bound, pen, sq_err, kl_sum, kl_n = all_sum(parts)
    n_obs = max(n_obs, 1.0)
    out: dict[str, Any] = {
        "loss": share_total / n_obs,
        "train_loss": (neg_bound + pen) / n_obs,
        "train_mse": sq_err / n_obs,
        "kl": kl_sum / max(kl_n, 1.0),
        "weight": n_obs,
    }
    if any_rank(penalty):
        out["flow_penalty"] = pen / n_obs
    return out
