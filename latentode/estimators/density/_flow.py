"""The flow's log-density in original units, and scoring with evaluation solver settings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import cast

import torch

from latentode.nn.cnf import CNF, CNFBlock, CNFOutput
from latentode.nn.posterior import standard_normal_log_prob
from latentode.nn.solve import SolverConfig

__all__ = ["evaluation", "log_density"]


def log_density(
    module: CNF, x: torch.Tensor, log_scale: float, generator: torch.Generator | None
) -> tuple[torch.Tensor, CNFOutput]:
    """Log-density ``(n,)`` of standardised rows ``x`` in original units (``log_scale`` is
    ``sum(log scale_)``, the Jacobian of the standardisation), and the flow's output."""
    out = module(x, reverse=True, generator=generator)
    logp = standard_normal_log_prob(out.z) - out.delta_logp - log_scale
    return logp, out


@contextlib.contextmanager
def evaluation(module: CNF, solver: SolverConfig) -> Iterator[None]:
    """Exact trace and the evaluation ``solver`` for the duration of the block."""
    blocks = cast("Sequence[CNFBlock]", module.blocks)  # nn.ModuleList items are untyped
    saved = [(b.solver, b.divergence) for b in blocks]
    try:
        for block in blocks:
            block.solver, block.divergence = solver, "exact"
        with torch.no_grad():
            yield
    finally:
        for block, (solver_, divergence) in zip(blocks, saved):
            block.solver, block.divergence = solver_, divergence
