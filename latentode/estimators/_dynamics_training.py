"""How ``NeuralODEDynamics`` trains: warm start, windowed multiple shooting, validation."""

from __future__ import annotations

import logging
from typing import Any

import torch

from latentode.data import (
    IrregularDataset,
)
from latentode.estimators._dynamics_support import (
    CHUNK,
    _arrays,
    _window_starts,
)
from latentode.estimators._tensors import PaddedSeries
from latentode.models.dynamics import (
    MultipleShooting,
    collocation_warm_start,
    gather_windows,
    padded_fills,
    secant_targets,
)
from latentode.training import (
    Trainer,
)

__all__ = ["data_summary", "make_trainer", "validator", "warm_start"]

logger = logging.getLogger(__name__)


def warm_start(est: Any, train: IrregularDataset) -> None:
    generator = torch.Generator().manual_seed(est.seed_ + 3)
    mse = collocation_warm_start(
        est.module_,
        secant_targets(_arrays(train)),
        steps=est.warm_start_steps,
        lr=est.lr,
        generator=generator,
    )
    logger.info("warm start on secant slopes: relative MSE %.4g", mse)


def make_trainer(est: Any, train: IrregularDataset, val: IrregularDataset | None) -> Trainer:
    module = est.module_
    padded = PaddedSeries(train, est.device_)
    fills = padded_fills(_arrays(train), est.device_)
    objective = MultipleShooting(module, fills, est.learn_initial_states)
    windows = _window_starts(train.lengths, stride=1, device=est.device_)
    cpu_generator = torch.Generator().manual_seed(est.seed_ + 1)
    groups = [{"params": list(module.parameters()), "lr": est.lr}]
    if est.learn_initial_states:
        # Each node is updated once per epoch; a smaller step keeps Adam's momentum
        # from carrying it far past the noise level between its updates.
        groups.append({"params": [objective.nodes], "lr": 0.1 * est.lr})
    optimizer = torch.optim.Adam(groups)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=est.lr_decay)
    width = est.window_size

    def step(index: torch.Tensor, epoch: int) -> dict[str, Any]:
        module.counter.reset()
        start = windows.index_select(0, index.to(windows.device))
        batch = gather_windows(
            padded.times,
            padded.values,
            padded.mask,
            padded.lengths,
            start[:, 0],
            start[:, 1],
            width,
        )
        sq, n = objective(batch)
        return {
            "loss": sq / n,
            "weight": float(n),
            "nfe_forward": float(module.counter.forward),
        }

    def batches(epoch: int):
        order = torch.randperm(len(windows), generator=cpu_generator)
        return order.split(est.batch_size)

    return est._trainer(
        objective,
        optimizer,
        step,
        batches,
        None if val is None else validator(est, val),
        counter=module.counter,
        scheduler=scheduler,
        data_summary=data_summary(est, train, val),
    )


def validator(est: Any, val: IrregularDataset):
    """Held-out loss: windows tiling each trajectory, started from the observations."""
    padded = PaddedSeries(val, est.device_)
    fills = padded_fills(_arrays(val), est.device_)
    width = est.window_size
    windows = _window_starts(val.lengths, stride=width - 1, device=est.device_)

    def validate(epoch: int) -> dict[str, float]:
        sq = count = 0.0
        with torch.no_grad():
            for index in torch.arange(len(windows)).split(CHUNK):
                start = windows[index]
                batch = gather_windows(
                    padded.times,
                    padded.values,
                    padded.mask,
                    padded.lengths,
                    start[:, 0],
                    start[:, 1],
                    width,
                )
                batch.mask[:, 0] = 0.0
                z0 = est.module_.lift(fills[start[:, 0], start[:, 1]])
                pred = est.module_.trajectory(z0, batch.times)[..., : fills.shape[-1]]
                sq += float(((pred - batch.values) ** 2 * batch.mask).sum())
                count += float(batch.mask.sum())
        return {"val_loss": sq / max(count, 1.0)}

    return validate


def data_summary(est: Any, train: IrregularDataset, val: IrregularDataset | None) -> dict:
    parts = [p for p in (train, val) if p is not None]
    n_rows = sum(int(p.lengths.sum()) for p in parts)
    n_obs = sum(p.n_observations for p in parts)
    return {
        "n_series": sum(len(p) for p in parts),
        "n_train_series": len(train),
        "n_val_series": 0 if val is None else len(val),
        "n_rows": n_rows,
        "n_observations": n_obs,
        "missing_fraction": 1.0 - n_obs / max(n_rows * len(est.feature_cols_), 1),
        "time_span": float(est.data_.time_.scale),
        "features": list(est.feature_cols_),
    }


# ------------------------------------------------------------------ the field
