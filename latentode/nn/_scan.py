"""A step-by-step loop whose autograd graph is kept in segments (gradient checkpointing).

The encoders walk each batch one observation step at a time, and autograd keeps every
step's intermediate tensors until the backward pass: memory linear in the series length
(about 1 KB per series and step). :func:`scan` runs a long loop in segments of
:data:`SEGMENT` steps under :func:`torch.utils.checkpoint.checkpoint`: only the state at
each segment's start is kept, and a segment's forward is recomputed when the backward pass
reaches it. Memory then follows the segment, not the length, for about one extra forward
of the encoder (at 1,000 points it cost 35 % of an epoch and saved 5 % of the peak; at
10,000, 2 % and 17 %: ``benchmarks/memory.py``), so only loops of at least
:data:`CHECKPOINT_MIN` series-steps (about 250 MB of graph) are checkpointed; shorter
loops, and loops without gradients, run plain.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.checkpoint import checkpoint

__all__ = ["CHECKPOINT_MIN", "SEGMENT", "scan"]

#: Steps per checkpointed segment of a long loop.
SEGMENT = 128

#: Rows × steps from which a loop is checkpointed (a series-step keeps about 1 KB: at
#: 32 × 10,000 points the checkpoints took an epoch's peak from 1,424 to 1,188 MB).
CHECKPOINT_MIN = 1 << 18

State = tuple[torch.Tensor, ...]


def scan(
    step: Callable[[int, State], State], state: State, n_steps: int, segment: int | None = None
) -> State:
    """``state = step(j, state)`` for ``j`` in ``range(n_steps)``; returns the last state.

    ``segment`` defaults to :data:`SEGMENT` (read at each call). ``step`` must be
    deterministic (it is run again, in the backward pass, on a segment's saved start state).
    """
    segment = SEGMENT if segment is None else segment
    n_rows = state[0].shape[0] if state else 0
    if not torch.is_grad_enabled() or n_steps <= 2 * segment or n_rows * n_steps < CHECKPOINT_MIN:
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
        state = checkpoint(run, start, stop, *state, use_reentrant=False)
    return state
