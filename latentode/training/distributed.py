"""Data-parallel training over ``torch.distributed`` (DDP), launched by ``torchrun``.

How a fit runs on ``W`` processes
---------------------------------
Every process holds the whole training set, draws the same batches (the batch order and
the training noise are seeded alike) and the same random context and posterior noise for
the *whole* batch, then computes the loss of its own share of the batch's series (rows
``rank, rank + W, …``). The model is wrapped in
:class:`torch.nn.parallel.DistributedDataParallel`, which all-reduces the gradients; each
process's loss is its share's part of the batch loss times ``W`` (DDP averages), so the
gradient is that of the whole batch and a fit on ``W`` processes follows the same
trajectory as one process with the same ``batch_size`` (the global batch) up to floating-
point summation order (tested on 2 CPU processes with gloo). The epoch metrics, the
validation and the stopping decisions (early stopping, ``max_time``) are reduced across
processes, so every process stops at the same epoch. Only rank 0 writes checkpoints,
progress bars and tracking runs; the CLI saves the model on rank 0.

Launch with ``torchrun --nproc-per-node N -m latentode.cli fit ...`` (or
``latentode fit --nproc N ...``); inside your own script, call
:func:`init_from_env` (or ``torch.distributed.init_process_group``) before ``fit``. The
backend is NCCL on CUDA devices and gloo on CPU.

Not identical across process counts: FFJORD posteriors with ``flow_divergence=
"hutchinson"`` draw their probes for each process's share (equal in distribution).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "World",
    "all_sum",
    "any_rank",
    "data_parallel",
    "init_from_env",
    "is_main_process",
    "world",
]

logger = logging.getLogger(__name__)


class World:
    """This process's place in a process group: ``rank`` of ``size`` (``size > 1``)."""

    def __init__(self, rank: int, size: int) -> None:
        self.rank = rank
        self.size = size

    def rows(self, n: int, device: torch.device | None = None) -> torch.Tensor:
        """The rows of an ``n``-row batch this process computes: ``rank, rank + size, …``."""
        return torch.arange(self.rank, n, self.size, device=device)

    def __repr__(self) -> str:
        return f"World(rank={self.rank}, size={self.size})"


def world() -> World | None:
    """The running process group, or None when training runs in one process."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    size = dist.get_world_size()
    return World(dist.get_rank(), size) if size > 1 else None


def is_main_process() -> bool:
    """True outside a process group and on rank 0 inside one."""
    w = world()
    return w is None or w.rank == 0


def init_from_env(device: str | torch.device | None = None) -> World | None:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE``,
    ``RANK``, ``MASTER_ADDR``, ...), with NCCL for CUDA devices and gloo otherwise.

    Returns the :class:`World`, or None when the environment names no group of two or more
    processes (a plain run). Safe to call when the group is already initialised.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    if not dist.is_initialized():
        cuda = str(device or "").startswith("cuda") or (
            device in (None, "auto") and torch.cuda.is_available()
        )
        backend = "nccl" if cuda and dist.is_nccl_available() else "gloo"
        dist.init_process_group(backend=backend)
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        logger.info(
            "joined a process group of %d (rank %d, %s)",
            dist.get_world_size(),
            dist.get_rank(),
            backend,
        )
    return world()


def _device_for_collectives() -> torch.device:
    return torch.device("cuda") if dist.get_backend() == "nccl" else torch.device("cpu")


def all_sum(values: Sequence[float]) -> list[float]:
    """The sums over processes of ``values`` (unchanged outside a process group)."""
    if world() is None or not values:
        return [float(v) for v in values]
    buf = torch.tensor(
        [float(v) for v in values], dtype=torch.float64, device=_device_for_collectives()
    )
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return [float(v) for v in buf.cpu().tolist()]


def any_rank(flag: bool) -> bool:
    """True if ``flag`` is true on any process (``flag`` outside a process group)."""
    if world() is None:
        return flag
    return all_sum([1.0 if flag else 0.0])[0] > 0


class _Step(torch.nn.Module):
    """The model and a step function as one module, so DDP sees the step as ``forward``."""

    def __init__(self, model: torch.nn.Module, step: Callable[[Any, int], dict[str, Any]]):
        super().__init__()
        self.model = model
        self.step = step

    def forward(self, batch: Any, epoch: int) -> dict[str, Any]:
        return self.step(batch, epoch)


def data_parallel(
    model: torch.nn.Module, step: Callable[[Any, int], dict[str, Any]]
) -> Callable[[Any, int], dict[str, Any]]:
    """``step`` run through :class:`~torch.nn.parallel.DistributedDataParallel` over
    ``model``'s parameters: the backward pass of the loss it returns all-reduces (averages)
    the gradients across processes."""
    from torch.nn.parallel import DistributedDataParallel

    device = next(model.parameters()).device
    return DistributedDataParallel(
        _Step(model, step),
        device_ids=[device.index if device.index is not None else torch.cuda.current_device()]
        if device.type == "cuda"
        else None,
        # every parameter gets a gradient in every step (checked for each model, encoder,
        # posterior and observation model in tests/training/test_distributed.py)
        find_unused_parameters=False,
    )
