"""What ``NeuralODEDynamics`` computes after fitting: linear coefficients in user units,
field evaluation times, and start states estimated from noisy observations."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch

from latentode.data import IrregularDataset, LongFrameEncoder
from latentode.estimators._tensors import PaddedSeries
from latentode.estimators.dynamics._inputs import CHUNK, arrays, as_times
from latentode.exceptions import QueryError
from latentode.models.dynamics import (
    LinearVectorField,
    ODEDynamics,
    fit_window_states,
    gather_windows,
    padded_fills,
)

__all__ = ["affine_coefficients", "field_times", "start_states"]


def affine_coefficients(
    module: ODEDynamics, data: LongFrameEncoder, n_features: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(A, b)`` of a linear field ``dx/dt = A x + b`` in the data's original units."""
    d = n_features
    # Only a linear field has coefficients (the estimator checks ``field='linear'``).
    linear = cast(LinearVectorField, module.field).linear
    rate = float(module.rate)
    weight = linear.weight.detach().cpu().double().numpy()[:d, :d] * rate
    bias = np.zeros(d) if linear.bias is None else linear.bias.detach().cpu().double().numpy()
    mean, std = data.scaler_.mean_, data.scaler_.scale_
    tscale = data.time_.scale
    coef = std[:, None] * weight / std[None, :] / tscale
    intercept = std * rate * bias[:d] / tscale - coef @ mean
    return coef, intercept


def field_times(
    t: Any, n: int, *, data: LongFrameEncoder, time_dependent: bool, device: torch.device
) -> torch.Tensor:
    """Normalised times ``(n,)`` at which to evaluate the field for ``n`` states."""
    if t is None:
        if time_dependent:
            raise QueryError(
                "This NeuralODEDynamics has time_dependent=True, so vector_field needs "
                "the time(s) 't' at which to evaluate the field. Pass t=..."
            )
        tn = np.zeros(n)
    else:
        tn = as_times(t, data.time_, allow_scalar=True)
        if tn.size == 1:
            tn = np.full(n, tn[0])
        elif tn.size != n:
            raise QueryError(
                f"Expected one time per state or a single time; got {tn.size} times for {n} states."
            )
    return torch.as_tensor(tn, dtype=torch.float64, device=device)


def start_states(
    module: ODEDynamics,
    dataset: IrregularDataset,
    *,
    anchor: str,
    window_size: int,
    fit_steps: int,
    device: torch.device,
) -> tuple[PaddedSeries, torch.Tensor, torch.Tensor]:
    """Estimated state at the first time of each series' first or last window.

    ``fit_steps`` Gauss–Newton iterations through the learned dynamics (0: the observed,
    interpolated state). Returns the padded series, window start times ``(N,)`` and
    states ``(N, L)``.
    """
    padded = PaddedSeries(dataset, device)
    fills = padded_fills(arrays(dataset), device)
    lengths = padded.lengths
    width = min(window_size, int(lengths.max()))
    starts = torch.clamp(lengths - width, min=0) if anchor == "last" else lengths * 0
    t0, z0 = [], []
    for index in torch.arange(len(dataset), device=device).split(CHUNK):
        batch = gather_windows(
            padded.times, padded.values, padded.mask, lengths, index, starts[index], width
        )
        init = module.lift(fills[index, starts[index]])
        z0.append(fit_window_states(module, batch, init, steps=fit_steps))
        t0.append(batch.times[:, 0])
    return padded, torch.cat(t0), torch.cat(z0)
