"""The flow's log-density in original units, and scoring with evaluation solver settings."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import cast

import numpy as np
import torch

from latentode.exceptions import SolverError
from latentode.nn.cnf import CNF, CNFBlock, CNFOutput
from latentode.nn.posterior import standard_normal_log_prob
from latentode.nn.solve import SolverConfig

__all__ = ["FAR", "evaluation", "log_density", "score_rows"]

logger = logging.getLogger(__name__)

#: Rows beyond this many training standard deviations are scored apart from the others.
FAR = 100.0


def log_density(
    module: CNF, x: torch.Tensor, log_scale: float, generator: torch.Generator | None
) -> tuple[torch.Tensor, CNFOutput]:
    """Log-density ``(n,)`` of standardised rows ``x`` in original units (``log_scale`` is
    ``sum(log scale_)``, the Jacobian of the standardisation), and the flow's output."""
    out = module(x, reverse=True, generator=generator)
    base = standard_normal_log_prob(out.z) if module.base is None else module.base.log_prob(out.z)
    logp = base - out.delta_logp - log_scale
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


def score_rows(module: CNF, data: torch.Tensor, log_scale: float, chunk: int) -> np.ndarray:
    """Log-density (float64, original units) of standardised rows ``data``, in chunks.

    Rows far outside the training data (beyond :data:`FAR` standard deviations) are solved
    one by one, apart from the others, so an adaptive solve never shrinks its steps (or
    fails) for a whole chunk because of them; a row whose log-density underflows (or whose
    solve fails) scores ``-inf``, with a warning.
    """
    far = (data.abs() > FAR).any(dim=1)
    out = torch.full((len(data),), float("nan"), dtype=data.dtype, device=data.device)
    for rows in torch.nonzero(~far).squeeze(1).split(chunk):
        out[rows] = log_density(module, data[rows], log_scale, None)[0]
    for row in torch.nonzero(far).squeeze(1).split(1):
        with contextlib.suppress(SolverError):
            out[row] = log_density(module, data[row], log_scale, None)[0]
    scores = out.cpu().numpy().astype(np.float64)
    lost = ~np.isfinite(scores)
    if lost.any():
        logger.warning(
            "%d row(s) (first: %d) lie so far outside the training data that their "
            "log-density underflowed; they score -inf.",
            int(lost.sum()),
            int(np.flatnonzero(lost)[0]),
        )
        scores[lost] = -np.inf
    return scores
