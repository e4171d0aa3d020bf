"""What ``NeuralODEDynamics`` computes after fitting: linear coefficients in user units,
field evaluation times, and start states estimated from noisy observations."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from latentode.data import (
    IrregularDataset,
)
from latentode.estimators._dynamics_support import (
    CHUNK,
    _arrays,
    as_times,
)
from latentode.estimators._tensors import PaddedSeries
from latentode.exceptions import QueryError
from latentode.models.dynamics import (
    fit_window_states,
    gather_windows,
    padded_fills,
)

__all__ = ["affine_coefficients", "field_times", "start_states"]


def affine_coefficients(est: Any) -> tuple[np.ndarray, np.ndarray]:
    est._check_fitted()
    if est.field != "linear":
        raise AttributeError(
            "coef_ and intercept_ exist only for field='linear'; this estimator has "
            f"field={est.field!r}. Use vector_field() to evaluate an MLP field."
        )
    d = len(est.feature_cols_)
    linear = est.module_.field.linear
    rate = float(est.module_.rate)
    weight = linear.weight.detach().cpu().double().numpy()[:d, :d] * rate
    bias = np.zeros(d) if linear.bias is None else linear.bias.detach().cpu().double().numpy()
    mean, std = est.data_.scaler_.mean_, est.data_.scaler_.scale_
    tscale = est.data_.time_.scale
    coef = std[:, None] * weight / std[None, :] / tscale
    intercept = std * rate * bias[:d] / tscale - coef @ mean
    return coef, intercept


def field_times(est: Any, t: Any, n: int) -> torch.Tensor:
    if t is None:
        if est.time_dependent:
            raise QueryError(
                "This NeuralODEDynamics has time_dependent=True, so vector_field needs "
                "the time(s) 't' at which to evaluate the field. Pass t=..."
            )
        tn = np.zeros(n)
    else:
        tn = as_times(t, est.data_.time_, allow_scalar=True)
        if tn.size == 1:
            tn = np.full(n, tn[0])
        elif tn.size != n:
            raise QueryError(
                f"Expected one time per state or a single time; got {tn.size} times for {n} states."
            )
    return torch.as_tensor(tn, dtype=torch.float64, device=est.device_)


def start_states(
    est: Any, dataset: IrregularDataset, anchor: str
) -> tuple[PaddedSeries, torch.Tensor, torch.Tensor]:
    """Estimated state at the first time of each series' first or last window.

    Returns the padded series, window start times ``(N,)`` and states ``(N, L)``.
    """
    padded = PaddedSeries(dataset, est.device_)
    fills = padded_fills(_arrays(dataset), est.device_)
    lengths = padded.lengths
    width = min(est.window_size, int(lengths.max()))
    starts = torch.clamp(lengths - width, min=0) if anchor == "last" else lengths * 0
    steps = est.state_fit_steps if est.initial_state == "fit" else 0
    t0, z0 = [], []
    for index in torch.arange(len(dataset), device=est.device_).split(CHUNK):
        batch = gather_windows(
            padded.times, padded.values, padded.mask, lengths, index, starts[index], width
        )
        init = est.module_.lift(fills[index, starts[index]])
        z0.append(fit_window_states(est.module_, batch, init, steps=steps))
        t0.append(batch.times[:, 0])
    return padded, torch.cat(t0), torch.cat(z0)
