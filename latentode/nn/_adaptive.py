"""Adaptive Runge–Kutta solving with a step size of each series' own.

torchdiffeq's adaptive solvers control one step size for the whole state tensor: in a
batch of series every series takes the steps the hardest one needs, and its solution
depends on its batch-mates (measured on the periodic protocol: a series forecast alone
and among 100–200 others differed by 0.06–0.12, 60–120× the tolerance). Here each series
(a row along the second-to-last axis; leading axes such as posterior samples share their
series' steps) has its own time, step size, error estimate and accept/reject decision,
so its trajectory is what it would be alone.

All rows are evaluated together at every iteration (rows that are done, or between
steps, take steps of size zero), so the field may rely on the batch's shape (FFJORD's
per-solve noise does). An iteration's cost is one batch evaluation per stage; the number
of iterations is the largest number of attempts any row needs.

Outputs at query times between steps come from a quartic dense output fitted through the
step's end points, their derivatives and the method's midpoint (as Hairer & Wanner,
*Solving ODEs I*, II.6; the midpoint weights are the method's). The step-size control is
the usual one (Hairer & Wanner II.4): error ratio ``r`` = RMS of
``err / (atol + rtol · max(|y0|, |y1|))`` over the row's entries, accept when ``r ≤ 1``,
next step ``h · clamp(0.9 · r^(-1/order), 0.2, 10)`` (never shrinking after an accepted
step). Step decisions are made on detached values: gradients flow through the accepted
steps (discretise-then-optimise), not through the choice of their sizes.

This module does not import torchdiffeq: :mod:`latentode.nn.solve` hands in the methods'
coefficients (:class:`Tableau`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch

from latentode.exceptions import MaxStepsExceededError, SolverError
from latentode.nn._nfe import NFECounter

__all__ = ["Tableau", "solve_rows_adaptive"]

_SAFETY, _GROW, _SHRINK = 0.9, 10.0, 0.2

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class Tableau:
    """An embedded explicit Runge–Kutta method.

    ``alpha[i]`` is the node of stage ``i + 1`` (stage 0 is at the step's start),
    ``beta[i]`` its weights on stages ``0..i``; ``c_sol`` the solution's weights,
    ``c_error`` the error estimate's, ``c_mid`` the weights of the state at the step's
    midpoint (for dense output); ``order`` sets the step-size exponent.
    """

    alpha: tuple[float, ...]
    beta: tuple[tuple[float, ...], ...]
    c_sol: tuple[float, ...]
    c_error: tuple[float, ...]
    c_mid: tuple[float, ...]
    order: int

    @property
    def fsal(self) -> bool:
        """The last stage is evaluated at the step's solution (first same as last)."""
        return self.c_sol[-1] == 0.0 and tuple(self.c_sol[:-1]) == tuple(self.beta[-1])


def _combine(k: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    total: torch.Tensor | None = None
    for w, ki in zip(weights, k, strict=False):
        if w != 0.0:
            total = ki * w if total is None else total + ki * w
    return k[0] * 0.0 if total is None else total


def _row_rms(x: torch.Tensor) -> torch.Tensor:
    """RMS of each row's entries ``(B,)`` for ``x`` of shape ``(..., B, L)``."""
    rows = x.movedim(-2, 0)
    return rows.reshape(rows.shape[0], -1).pow(2).mean(dim=1).sqrt()


def _rows(mask: torch.Tensor) -> torch.Tensor:
    """``(B,)`` bool → ``(B, 1)`` for broadcasting against ``(..., B, L)``."""
    return mask.unsqueeze(-1)


def _initial_step(
    field: Field,
    t0: torch.Tensor,
    y0: torch.Tensor,
    f0: torch.Tensor,
    direction: torch.Tensor,
    order: int,
    rtol: float,
    atol: float,
    counter: NFECounter,
) -> torch.Tensor:
    """A first step size per row (Hairer & Wanner's heuristic), ``(B,)`` float64."""
    scale = atol + rtol * y0.abs()
    d0 = _row_rms(y0 / scale).double()
    d1 = _row_rms(f0 / scale).double()
    h0 = torch.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1.clamp(min=1e-300))
    y1 = y0 + _rows(direction * h0).to(y0.dtype) * f0
    counter.tick(1)
    f1 = field(t0 + direction * h0, y1)
    d2 = _row_rms((f1 - f0) / scale).double() / h0
    big = torch.maximum(d1, d2)
    h1 = torch.where(
        big <= 1e-15,
        torch.clamp(h0 * 1e-3, min=1e-6),
        (0.01 / big.clamp(min=1e-300)) ** (1.0 / (order + 1)),
    )
    return torch.minimum(100 * h0, h1)


def _dense(
    rows: torch.Tensor,
    theta: torch.Tensor,
    dt: torch.Tensor,
    y0: torch.Tensor,
    y1: torch.Tensor,
    ym: torch.Tensor,
    f0: torch.Tensor,
    f1: torch.Tensor,
) -> torch.Tensor:
    """States ``(..., n, L)`` at ``n`` (row, fraction) pairs: the quartic through ``y0``,
    ``y_mid``, ``y1`` with slopes ``f0``, ``f1`` of each pair's row, at ``theta`` in
    ``[0, 1]`` of the row's step ``dt`` (``rows`` sorted, as ``nonzero`` gives them).

    The five coefficients are computed once per row and every row's outputs come from one
    batched matrix product (a forecast asks for many times per step: computing them pair
    by pair made dense output the largest cost of a 1,000-series forecast).
    """
    urows, counts = torch.unique_consecutive(rows, return_counts=True)
    n_rows = urows.numel()
    pick = [x.index_select(-2, urows) for x in (y0, y1, ym, f0, f1)]
    a0, a1, am, s0, s1 = pick
    h = _rows(dt.index_select(0, urows)).to(y0.dtype)
    lin = a1 - a0 - h * s0
    slope = h * (s1 - s0)
    mid = am - a0 - 0.5 * h * s0
    coeffs = torch.stack(
        [
            a0,
            h * s0,
            16 * mid - 5 * lin + slope,
            14 * lin - 3 * slope - 32 * mid,
            -8 * lin + 2 * slope + 16 * mid,
        ],
        dim=-1,
    )  # (..., R, L, 5)
    lead = coeffs.shape[:-3]
    per_row = coeffs.movedim(-3, 0).reshape(n_rows, -1, 5)  # (R, ...·L, 5)
    first = torch.cumsum(counts, 0) - counts
    row_of = torch.repeat_interleave(torch.arange(n_rows, device=rows.device), counts)
    slot = torch.arange(rows.numel(), device=rows.device) - first[row_of]
    powers = theta.to(y0.dtype).unsqueeze(1) ** torch.arange(5, device=rows.device)
    basis = y0.new_zeros(n_rows, int(counts.max()), 5)
    basis[row_of, slot] = powers
    values = torch.bmm(per_row, basis.transpose(1, 2))  # (R, ...·L, slots)
    out = values[row_of, :, slot]  # (n, ...·L)
    return out.reshape(rows.numel(), *lead, y0.shape[-1]).movedim(0, -2)


def _solve_monotone(
    field: Field,
    z0: torch.Tensor,
    t0: torch.Tensor,
    targets: torch.Tensor,
    tableau: Tableau,
    rtol: float,
    atol: float,
    max_num_steps: int,
    counter: NFECounter,
) -> torch.Tensor:
    """States ``(..., B, Q, L)`` at ``targets (B, Q)``, each row monotone away from ``t0``."""
    n_rows, n_targets = targets.shape
    if n_rows == 0:
        return z0.new_zeros((*z0.shape[:-2], 0, n_targets, z0.shape[-1]))
    direction = torch.sign(targets[:, -1] - t0)
    end = targets[:, -1]
    # the targets at the start are answered at once
    at_start = targets == t0.unsqueeze(1)
    next_j = at_start.sum(dim=1)
    flat_index: list[torch.Tensor] = []
    values: list[torch.Tensor] = []
    r0, j0 = torch.nonzero(at_start, as_tuple=True)
    if r0.numel():
        flat_index.append(r0 * n_targets + j0)
        values.append(z0.index_select(-2, r0))
    active = next_j < n_targets
    y, tau = z0, t0.clone()
    if bool(active.any()):
        counter.tick(1)
        f0 = field(tau, y)
        with torch.no_grad():
            h = _initial_step(
                field, tau, y.detach(), f0.detach(), direction, tableau.order, rtol, atol, counter
            )
        attempts = torch.zeros(n_rows, dtype=torch.long, device=targets.device)
    while bool(active.any()):
        attempts = attempts + active.long()
        if bool((attempts > max_num_steps).any()):
            row = int(torch.nonzero(attempts > max_num_steps)[0].item())
            raise MaxStepsExceededError(
                f"The adaptive ODE solver exceeded max_num_steps={max_num_steps} steps "
                f"(reached time {float(tau[row]):.4g} of {float(end[row]):.4g}). The dynamics "
                "became stiff or the tolerances are too tight: raise 'max_num_steps', loosen "
                "'rtol'/'atol', lower the learning rate, or use a fixed-step method.",
                row=row,
            )
        remaining = (end - tau).abs()
        lands = active & (h >= remaining)
        size = torch.where(active, torch.minimum(h, remaining), 0.0)
        dt = direction * size
        tau_new = torch.where(lands, end, tau + dt)
        dtz = _rows(dt).to(y.dtype)
        k = [f0]
        yi = y
        for alpha_i, beta_i in zip(tableau.alpha, tableau.beta, strict=True):
            yi = y + dtz * _combine(k, beta_i)
            counter.tick(1)
            k.append(field(tau + alpha_i * dt, yi))
        y1 = yi if tableau.fsal else y + dtz * _combine(k, tableau.c_sol)
        with torch.no_grad():
            err = dtz * _combine([ki.detach() for ki in k], tableau.c_error)
            tol = atol + rtol * torch.maximum(y.detach().abs(), y1.detach().abs())
            ratio = _row_rms(err / tol).double()
            finite = torch.isfinite(ratio)
            accept = active & finite & (ratio <= 1.0)
            tiny = ~torch.isfinite(size) | (size <= 1e-12 * (1.0 + tau.abs()))
            if bool((active & ~finite & tiny).any()):
                row = int(torch.nonzero(active & ~finite & tiny)[0].item())
                raise SolverError(
                    f"The adaptive ODE solver's step size underflowed at time "
                    f"{float(tau[row]):.4g}: the dynamics are diverging (non-finite states). "
                    "Loosen the tolerances, lower the learning rate or check the inputs."
                )
            exponent = 1.0 / tableau.order
            factor = _SAFETY * ratio.clamp(min=1e-300) ** (-exponent)
            factor = torch.where(ratio <= 1.0, factor.clamp(1.0, _GROW), factor.clamp(_SHRINK))
            factor = torch.where(ratio == 0.0, _GROW, factor)
            factor = torch.where(finite, factor, _SHRINK)
            h = torch.where(active, torch.where(size > 0, size, h) * factor, h)
        if not bool(accept.any()):
            continue
        if tableau.fsal:
            f1 = k[-1]
        else:
            counter.tick(1)
            f1 = field(tau_new, y1)
        # outputs: a row's unanswered targets up to its new time
        j = torch.arange(n_targets, device=targets.device)
        reached = (direction.unsqueeze(1) * (targets - tau_new.unsqueeze(1))) <= 0
        answer = accept.unsqueeze(1) & (j.unsqueeze(0) >= next_j.unsqueeze(1)) & reached
        rows, cols = torch.nonzero(answer, as_tuple=True)
        if rows.numel():
            span = (tau_new - tau)[rows]
            theta = torch.where(span != 0, (targets[rows, cols] - tau[rows]) / span, 1.0)
            theta = theta.clamp(0.0, 1.0)
            ym = y + dtz * _combine(k, tableau.c_mid)
            values.append(_dense(rows, theta, dt, y, y1, ym, f0, f1))
            flat_index.append(rows * n_targets + cols)
            next_j = next_j + answer.sum(dim=1)
        keep = _rows(accept)
        y = torch.where(keep, y1, y)
        f0 = torch.where(keep, f1, f0)
        tau = torch.where(accept, tau_new, tau)
        active = next_j < n_targets
    index = torch.cat(flat_index)
    out = torch.cat(values, dim=-2)
    shape = (*z0.shape[:-2], n_rows * n_targets, z0.shape[-1])
    full = z0.new_zeros(shape).index_copy(-2, index, out)
    return full.reshape(*z0.shape[:-2], n_rows, n_targets, z0.shape[-1])


def solve_rows_adaptive(
    field: Field,
    z0: torch.Tensor,
    t0: torch.Tensor,
    times: torch.Tensor,
    tableau: Tableau,
    *,
    rtol: float,
    atol: float,
    max_num_steps: int,
    counter: NFECounter,
) -> torch.Tensor:
    """Solve ``dz/dt = field(t, z)`` from ``z0`` at ``t0 (B,)`` to ``times (B, Q)``
    (ascending per row; times before ``t0`` are solved backwards from ``t0``), every row
    with its own adaptive steps. Returns ``(..., B, Q, L)``."""
    t0 = t0.to(torch.float64)
    times = times.to(torch.float64)
    before = times < t0.unsqueeze(1)
    forward_targets = torch.where(before, t0.unsqueeze(1), times)

    def solve(targets: torch.Tensor) -> torch.Tensor:
        return _solve_monotone(field, z0, t0, targets, tableau, rtol, atol, max_num_steps, counter)

    ahead = solve(forward_targets)
    if not bool(before.any()):
        return ahead
    back_targets = torch.where(before, times, t0.unsqueeze(1)).flip(1)
    behind = solve(back_targets).flip(-2)
    return torch.where(before.unsqueeze(-1), behind, ahead)
