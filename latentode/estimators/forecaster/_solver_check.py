"""The accuracy guard of fast fixed-step decoders: compare with a tight adaptive solve.

A fixed-step decoder (``method="euler"`` with a ``step_size``) is many times faster to
train than dopri5, and as accurate as the model needs where the learned dynamics are slow
against the step. Where they are not, forecasts carry discretisation error that no loss
shows. After a fit, :func:`check_fixed_step` decodes a few series' posterior means with the
trained solver and with dopri5 at tight tolerances and reports the root-mean-square
difference of the predicted means (in standardised feature units); above ``tolerance`` the
estimator warns and says what to change.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from typing import Any

import torch

from latentode.estimators._tensors import PaddedSeries
from latentode.exceptions import SolverAccuracyWarning, SolverError
from latentode.models.latent_ode import LatentODE
from latentode.nn.solve import FIXED_METHODS

__all__ = ["MAX_CHECK_TIMES", "TOLERANCE", "check_fixed_step"]

logger = logging.getLogger(__name__)

#: Largest acceptable RMS difference of the decoded means, in feature standard deviations.
TOLERANCE = 0.05

#: Most time steps per series the check decodes: longer series are compared at every k-th
#: step. The tight dopri5 solve stops at every output time, so on 10,000-point series the
#: check at every step took longer than a training epoch (3,000 points: 10 s against an
#: epoch's 8 s, ``benchmarks/memory.py``'s protocol); the trajectories differ where the
#: dynamics are fast against the step, which a few hundred times per series show as well.
MAX_CHECK_TIMES = 256


def check_fixed_step(
    module: Any, series: PaddedSeries, *, n_series: int = 64, tolerance: float = TOLERANCE
) -> dict[str, Any] | None:
    """Decode ``n_series`` of ``series`` with the trained fixed-step solver and with dopri5
    (rtol 1e-6, atol 1e-8); warn (:class:`SolverAccuracyWarning`) when their means differ
    by more than ``tolerance``. Returns the comparison, or None for adaptive solvers and
    the ODE-RNN baseline (nothing to check)."""
    if not isinstance(module, LatentODE) or module.solver.method not in FIXED_METHODS:
        return None
    batch = series.batch(torch.arange(min(len(series), n_series)))
    trained = module.solver
    reference = dataclasses.replace(
        trained, method="dopri5", rtol=1e-6, atol=1e-8, adjoint=False, step_size=None
    )
    result: dict[str, Any] = {
        "method": trained.method,
        "step_size": trained.step_size,
        "reference": "dopri5 (rtol 1e-6, atol 1e-8)",
        "n_series": batch.n_series,
        "tolerance": tolerance,
    }
    n_steps = batch.times.shape[1]
    steps = torch.arange(0, n_steps, -(-n_steps // MAX_CHECK_TIMES), device=batch.times.device)
    times = batch.times[:, steps]
    module.eval()
    with torch.no_grad():
        z0 = module.posterior.mean(module.summary(batch)).unsqueeze(0)
        fixed, _ = module.decode(z0, batch, times)
        module.solver = reference
        try:
            exact, _ = module.decode(z0, batch, times)
        except SolverError as exc:  # the learned field is too stiff even for dopri5 here
            logger.info("fixed-step check skipped: the reference solve failed (%s)", exc)
            return {**result, "rms_difference": None}
        finally:
            module.solver = trained
    valid = (steps.cpu() < batch.lengths.cpu().unsqueeze(1)).to(fixed)
    sq = ((fixed - exact) ** 2).mean(-1) * valid
    rms = float((sq.sum() / valid.sum().clamp(min=1.0)).sqrt())
    result["rms_difference"] = rms
    if rms > tolerance:
        warnings.warn(
            f"The fixed-step decoder ({trained.method}, step_size={trained.step_size}) "
            f"differs from a tight dopri5 solve by {rms:.3g} feature standard deviations "
            f"(RMS over {batch.n_series} series; tolerance {tolerance}). The learned "
            "dynamics (or the jumps of time-varying covariates, which fixed steps read "
            "only at their stages) are fast against the step: pass a smaller 'step_size' (e.g. "
            f"{(trained.step_size or 0.1) / 4:g}) or method='dopri5'.",
            SolverAccuracyWarning,
            stacklevel=4,
        )
    return result
