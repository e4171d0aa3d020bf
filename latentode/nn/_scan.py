"""A step-by-step loop whose autograd graph is kept in segments (gradient checkpointing).

The encoders walk each batch one observation step at a time, and autograd keeps every
step's intermediate tensors, and a graph node for each of its operations, until the
backward pass: memory linear in the series length (about 1 KB per series and step for the
tensors, and about 30 KB per step for the nodes, whatever the number of series).
:func:`scan` runs a long loop in segments of :data:`SEGMENT` steps under
:func:`checkpoint_call`: only the state at each segment's start is kept, and a segment's
forward is recomputed when the backward pass reaches it.

The segments use torch's *reentrant* checkpoint, which records one graph node per segment.
The non-reentrant one, used before, drops the tensors but keeps every operation's node:
on the ODE-RNN encoder alone, a batch of 32 series × 10,000 steps still grew by 380 MB,
and its forward and backward took 2.3× the plain loop's time; the reentrant one grew by
90 MB, and at 1,000 steps cost 1.3× the plain loop. In a data-parallel process group,
whose gradient hooks expect each parameter's gradient once per backward pass, the
non-reentrant checkpoint is kept.

Which loops are checkpointed: by default (``memory="auto"``) those of at least
:data:`CHECKPOINT_MIN` series-steps (about 250 MB of tensors) or :data:`CHECKPOINT_MIN_STEPS`
steps (about 60 MB of nodes); under :func:`low_memory` every loop longer than two segments.
Loops without gradients always run plain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.checkpoint import checkpoint

__all__ = [
    "CHECKPOINT_MIN",
    "CHECKPOINT_MIN_STEPS",
    "SEGMENT",
    "checkpoint_call",
    "checkpoints",
    "is_low_memory",
    "low_memory",
    "scan",
]

#: Steps per checkpointed segment of a long loop.
SEGMENT = 128

#: Rows × steps from which a loop is checkpointed (a series-step keeps about 1 KB: at
#: 32 × 10,000 points the checkpoints took an epoch's peak from 1,424 to 1,188 MB).
CHECKPOINT_MIN = 1 << 18

#: Steps from which a loop is checkpointed whatever its rows (graph nodes: ~30 KB a step).
CHECKPOINT_MIN_STEPS = 2048

_LOW_MEMORY: ContextVar[bool] = ContextVar("latentode_low_memory", default=False)

State = tuple[torch.Tensor, ...]


@contextmanager
def low_memory(enabled: bool = True) -> Iterator[None]:
    """Within the block, :func:`scan` checkpoints every loop longer than two segments
    (the estimators' ``memory="low"``)."""
    token = _LOW_MEMORY.set(enabled)
    try:
        yield
    finally:
        _LOW_MEMORY.reset(token)


def is_low_memory() -> bool:
    """Whether a :func:`low_memory` block is active."""
    return _LOW_MEMORY.get()


def checkpoint_call(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` without keeping its graph: recomputed in the backward pass.

    ``fn`` must be deterministic (no random numbers: the RNG state is not replayed) and
    return tensors. Reentrant (one graph node) unless a process group is initialised. A
    leaf that requires gradients is passed along so the output has a graph even when no
    input tensor requires gradients (the parameters used inside ``fn`` still get theirs).
    """
    if dist.is_available() and dist.is_initialized():
        return checkpoint(fn, *args, use_reentrant=False, preserve_rng_state=False)
    device = next((a.device for a in args if isinstance(a, torch.Tensor)), None)
    anchor = torch.ones((), device=device, requires_grad=True)
    return checkpoint(
        lambda _anchor, *rest: fn(*rest),
        anchor,
        *args,
        use_reentrant=True,
        preserve_rng_state=False,
    )


def checkpoints(n_rows: int, n_steps: int, segment: int | None = None) -> bool:
    """Whether :func:`scan` would checkpoint a loop of ``n_steps`` over ``n_rows`` rows
    (with gradients enabled, in the current memory mode)."""
    segment = SEGMENT if segment is None else segment
    large = (
        _LOW_MEMORY.get() or n_rows * n_steps >= CHECKPOINT_MIN or n_steps >= CHECKPOINT_MIN_STEPS
    )
    return torch.is_grad_enabled() and n_steps > 2 * segment and large


def scan(
    step: Callable[[int, State], State], state: State, n_steps: int, segment: int | None = None
) -> State:
    """``state = step(j, state)`` for ``j`` in ``range(n_steps)``; returns the last state.

    ``segment`` defaults to :data:`SEGMENT` (read at each call). ``step`` must be
    deterministic (it is run again, in the backward pass, on a segment's saved start state).
    """
    segment = SEGMENT if segment is None else segment
    n_rows = state[0].shape[0] if state else 0
    if not checkpoints(n_rows, n_steps, segment):
        for j in range(n_steps):
            state = step(j, state)
        return state

    def run(start: int, stop: int, *carry: torch.Tensor) -> State:
        out = tuple(carry)
        for j in range(start, stop):
            out = step(j, out)
        return out

    for start in range(0, n_steps, segment):
        stop = min(start + segment, n_steps)
        state = checkpoint_call(run, start, stop, *state)
    return state
