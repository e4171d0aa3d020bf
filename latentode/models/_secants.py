"""Secant slopes of the observations: the field's speed scale and its warm start.

Finite differences of consecutive (or strided) observations estimate ``dx/dt`` without any
ODE solve. :func:`secant_rate` turns them into the fixed output scale ``ODEDynamics.rate``;
:func:`secant_targets` and :func:`collocation_warm_start` fit the field to them (gradient
matching) before multiple shooting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from latentode.models.dynamics import ODEDynamics

__all__ = ["collocation_warm_start", "secant_rate", "secant_targets"]


def secant_targets(
    series: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Midpoint times ``(M,)``, states ``(M, D)`` and slopes ``(M, D)`` of observation pairs.

    For consecutive observations of a series observed in every feature, the secant slope
    ``(x[k+1] - x[k]) / (t[k+1] - t[k])`` estimates ``dx/dt`` at the midpoint
    ``(x[k] + x[k+1]) / 2`` to second order in the gap.
    """
    t_mid, x_mid, slopes = [], [], []
    for t, v, m in series:
        both = m[1:].all(axis=1) & m[:-1].all(axis=1)
        dt = np.diff(t)[both]
        t_mid.append((0.5 * (t[1:] + t[:-1]))[both])
        x_mid.append((0.5 * (v[1:] + v[:-1]))[both])
        slopes.append(np.diff(v, axis=0)[both] / dt[:, None])
    d = series[0][1].shape[1]
    return (
        np.concatenate(t_mid) if t_mid else np.empty(0),
        np.concatenate(x_mid) if x_mid else np.empty((0, d)),
        np.concatenate(slopes) if slopes else np.empty((0, d)),
    )


def collocation_warm_start(
    dynamics: ODEDynamics,
    targets: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    steps: int,
    lr: float,
    generator: torch.Generator,
    batch_size: int = 4096,
) -> float:
    """Fit the field to secant slopes (no ODE solve) before shooting; returns the last MSE.

    Gradient matching gets the field close cheaply; the window fit then removes the bias of
    finite differences. Minimises ``mean(|f(t, [x, 0]) - slope|²) / rate²`` with Adam.
    """
    t_mid, x_mid, slopes = targets
    if steps == 0 or len(t_mid) == 0:
        return float("nan")
    device = dynamics.rate.device
    t = torch.as_tensor(t_mid, dtype=torch.float64, device=device)
    x = dynamics.lift(torch.as_tensor(x_mid, dtype=torch.float32, device=device))
    y = torch.as_tensor(slopes, dtype=torch.float32, device=device)
    d = y.shape[-1]
    optimizer = torch.optim.Adam(dynamics.parameters(), lr=lr)
    scale = float(dynamics.rate) ** 2
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        idx = (
            torch.randint(len(t), (batch_size,), generator=generator).to(device)
            if len(t) > batch_size
            else slice(None)
        )
        loss = ((dynamics(t[idx], x[idx])[:, :d] - y[idx]) ** 2).mean() / scale
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def secant_rate(
    series: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], n_secants: int = 50
) -> float:
    """Typical speed of scaled states per normalised time unit (sets ``ODEDynamics.rate``).

    The root mean square of secant slopes ``(x[k+s] - x[k]) / (t[k+s] - t[k])`` over
    entries observed at both ends, with a stride ``s`` giving each series about
    ``n_secants`` secants (so that noise between close observations does not dominate).
    Returns 1.0 when no slope can be formed; clipped to ``[1e-3, 1e3]``.
    """
    slopes = []
    for t, v, m in series:
        stride = max(1, len(t) // n_secants)
        if len(t) <= stride:
            continue
        dt = (t[stride:] - t[:-stride])[:, None]
        both = m[stride:] & m[:-stride]
        slopes.append(((v[stride:] - v[:-stride]) / dt)[both])
    flat = np.concatenate(slopes) if slopes else np.empty(0)
    if flat.size == 0:
        return 1.0
    rate = float(np.sqrt(np.mean(flat.astype(np.float64) ** 2)))
    return float(np.clip(rate, 1e-3, 1e3)) if np.isfinite(rate) and rate > 0 else 1.0
