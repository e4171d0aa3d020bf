"""How ``LatentODEForecaster`` trains: the objective, the trainer and its callbacks.

Functions of the estimator (``est``) rather than methods, to keep the estimator module an
orchestration of small steps.
"""

from __future__ import annotations

from typing import Any

import torch

from latentode.estimators._tensors import PaddedSeries
from latentode.models._context import compact_rows, sample_context
from latentode.nn.solve import NFECounter
from latentode.training import (
    Trainer,
)

__all__ = ["data_summary", "make_trainer", "objective", "random_context"]


def make_trainer(est: Any, train: PaddedSeries, val: PaddedSeries | None) -> Trainer:
    module = est.module_
    generator = torch.Generator(device=est.device_).manual_seed(est.seed_)
    cpu_generator = torch.Generator().manual_seed(est.seed_ + 1)
    optimizer = torch.optim.Adam(module.parameters(), lr=est.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=est.lr_decay)

    def kl_weight(epoch: int) -> float:
        if est.kl_warmup_epochs == 0:
            return 1.0
        return min(1.0, (epoch - 1) / est.kl_warmup_epochs)

    extra_counters = _component_counters(module)

    def step(index: torch.Tensor, epoch: int) -> dict[str, Any]:
        module.counter.reset()
        for counter in extra_counters.values():
            counter.reset()
        metrics = objective(est, train.batch(index), kl_weight(epoch), generator)
        metrics["nfe_forward"] = float(module.counter.forward)
        for name, counter in extra_counters.items():
            metrics[name] = float(counter.forward)
        return metrics

    def batches(epoch: int):
        return train.batches(est.batch_size, cpu_generator, shuffle=True)

    def validate(epoch: int) -> dict[str, float]:
        gen = torch.Generator(device=est.device_).manual_seed(est.seed_ + 2)
        total = sq = obs = 0.0
        with torch.no_grad():
            for index in val.batches(max(est.batch_size, 256)):
                m = objective(est, val.batch(index), 1.0, gen)
                total += float(m["loss"]) * m["weight"]
                sq += m["train_mse"] * m["weight"]
                obs += m["weight"]
        return {"val_loss": total / obs, "val_mse": sq / obs}

    trainer = est._trainer(
        module,
        optimizer,
        step,
        batches,
        validate if val is not None else None,
        counter=module.counter,
        scheduler=scheduler,
        data_summary=data_summary(est, train, val),
    )
    trainer.generators = {"noise": generator, "batches": cpu_generator}
    return trainer


def _component_counters(module: torch.nn.Module) -> dict[str, NFECounter]:
    """Evaluation counters besides the decoder's: ODE-RNN encoder, FFJORD posterior flow.

    Reported per epoch as ``nfe_encoder`` / ``nfe_flow`` (forward evaluations per batch);
    ``nfe_forward`` / ``nfe_backward`` stay the decoder's.
    """
    found = {
        "nfe_encoder": getattr(getattr(module, "encoder", None), "counter", None),
        "nfe_flow": getattr(
            getattr(getattr(module, "posterior", None), "flow", None), "counter", None
        ),
    }
    return {name: c for name, c in found.items() if isinstance(c, NFECounter)}


def data_summary(est: Any, train: PaddedSeries, val: PaddedSeries | None) -> dict[str, Any]:
    parts = [p for p in (train, val) if p is not None]
    n_rows = sum(int(p.lengths.sum()) for p in parts)
    n_obs = sum(float(p.mask.sum()) for p in parts)
    return {
        "n_series": sum(len(p) for p in parts),
        "n_train_series": len(train),
        "n_val_series": 0 if val is None else len(val),
        "n_rows": n_rows,
        "n_observations": int(n_obs),
        "missing_fraction": 1.0 - n_obs / max(n_rows * len(est.feature_cols_), 1),
        "time_span": float(est.data_.time_.scale),
        "features": list(est.feature_cols_),
    }


def random_context(est: Any, batch: tuple, generator: torch.Generator) -> tuple:
    """The context a training step encodes: a random subset (or prefix) of ``batch``'s rows."""
    times, values, mask, lengths = batch
    keep = sample_context(
        times,
        lengths,
        extrap_prob=est.extrap_prob,
        min_prefix=est.min_prefix,
        dropout=est.context_dropout,
        generator=generator,
    )
    return compact_rows(keep, times, values, mask)


def objective(
    est: Any, batch: tuple, kl_weight: float, generator: torch.Generator
) -> dict[str, Any]:
    times, values, mask, _ = batch
    context = random_context(est, batch, generator)
    terms = est.module_.bound_terms(
        context, (times, values, mask), est.n_train_samples, generator=generator
    )
    bound = terms.iwae() if est.bound == "iwae" else terms.elbo(kl_weight)
    n_obs = terms.n_obs.sum()
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
