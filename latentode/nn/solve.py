"""The solve layer: the only module of latentode that imports :mod:`torchdiffeq`.

Per-series time grids
---------------------
A batch holds series whose observation times all differ. The reference Latent ODE code
merges every timestamp of a batch into one union grid; with the adjoint method the backward
pass then integrates between *every pair* of consecutive union times, so its cost grows
with the number of distinct timestamps in the batch (measured: 266 → 9,734 backward
function evaluations for 64 series × 20 points).

Here every series keeps its own grid. Series ``i`` with start ``t_i0`` and query times
``t_i1 < … < t_iQ`` is solved in a shared *pseudo-time* ``s ∈ [0, Q]`` whose integer ``k``
stands for the series' own ``t_ik``: ``t_i(s)`` is a C¹ cubic Hermite spline through the
points ``(k, t_ik)``, and the chain rule gives::

    dz_i/ds = t_i'(s) · f(t_i(s), z_i)

All series share the output grid ``s = 0, 1, …, Q``: the solver returns exactly each
series' own query times, and the adjoint's backward pass (which restarts at every output
time) costs Q segments — it grows with the *longest* series, never with the union of the
batch's timestamps. Because an ODE's flow composes (``φ(t2, t1)∘φ(t1, t0) = φ(t2, t0)``),
the answer does not depend on the path ``t_i(s)`` takes between knots, so the spline needs
no monotonicity; it only has to be smooth, so that an adaptive solver can step across
several knots and interpolate them (a piecewise-linear ``t_i(s)`` would make the pace jump at
every knot and force at least one step per query time: measured 2–5× more evaluations).
Padding repeats a series' last time (pace 0: the state stays frozen). Queries before the
start time integrate backwards.

Which path a solve takes
------------------------
* Adaptive methods without the adjoint (the estimators' default, ``dopri5``):
  :mod:`latentode.nn._adaptive`, a Runge–Kutta loop in real time where every series has
  its own step size and accept/reject decisions, with dense output at its query times, so
  a series' trajectory does not depend on its batch-mates. torchdiffeq's solvers control
  one step size for the whole batch (measured on the periodic protocol: a series alone vs
  among 100–200 others differed by 0.06–0.12) and, on the pseudo-time path below, step at
  least once per knot; the per-series loop also made a decoder solve 4–8× faster (fewer
  evaluations; ``benchmarks/adaptive.py`` measures both).
* Fixed-step methods without the adjoint: :mod:`latentode.nn._fixed_steps`, each series on
  its own step grid.
* The adjoint (either kind of method): torchdiffeq on the shared pseudo-time described
  above, which its backward pass needs.

The options (:class:`SolverConfig`, the method lists), the evaluation counter
(:class:`NFECounter`) and the error translation (:func:`translate_solver_errors`) live in
torchdiffeq-free private modules and are re-exported here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torchdiffeq
from torch import nn
from torchdiffeq._impl.odeint import SOLVERS

from latentode.nn._adaptive import Tableau, solve_rows_adaptive
from latentode.nn._fixed_steps import (
    DIRECT_METHODS,
    IntervalPlan,
    check_step_budget,
    solve_fixed_direct,
    solve_on_step_grid,
    step_counts,
)
from latentode.nn._nfe import NFECounter
from latentode.nn._solver_config import ADAPTIVE_METHODS, FIXED_METHODS, SolverConfig
from latentode.nn._solver_errors import translate_solver_errors

__all__ = [
    "ADAPTIVE_METHODS",
    "DIRECT_METHODS",
    "FIXED_METHODS",
    "NFECounter",
    "SolverConfig",
    "solve_intervals",
    "solve_on_grids",
    "translate_solver_errors",
]

#: Adaptive solves without the adjoint use the per-series solver; ``False`` restores
#: torchdiffeq's one step size per batch (kept for ``benchmarks/adaptive.py``'s comparison).
PER_SERIES_ADAPTIVE = True

#: Vector field protocol: ``field(t, z)`` with per-series times ``t`` of shape ``(B,)`` and
#: states ``z`` of shape ``(..., B, L)``; returns ``dz/dt`` with the shape of ``z``.
VectorField = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class _SegmentField(nn.Module):
    """``dz/ds = t_i'(s) · f(t_i(s), z)`` with ``t_i`` a C¹ cubic Hermite spline in ``s``.

    ``t_i`` passes through ``(k, t_ik)`` for every integer ``k`` (tangents: central
    differences), so the pace ``t_i'`` is continuous and an adaptive solver may step across
    several query times and interpolate them, as it would on a plain grid.
    """

    def __init__(self, field: nn.Module, grid: torch.Tensor, counter: NFECounter) -> None:
        super().__init__()
        self.field = field
        self.counter = counter
        self.grid: torch.Tensor
        self.tangents: torch.Tensor
        tangents = torch.empty_like(grid)
        tangents[:, 1:-1] = 0.5 * (grid[:, 2:] - grid[:, :-2])
        tangents[:, 0] = grid[:, 1] - grid[:, 0]
        tangents[:, -1] = grid[:, -1] - grid[:, -2]
        self.register_buffer("grid", grid, persistent=False)  # (B, Q + 1) float64
        self.register_buffer("tangents", tangents, persistent=False)
        self.n_segments = grid.shape[1] - 1

    def forward(self, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.counter.tick(1)
        s = s.to(self.grid.dtype)
        # Index with tensors (no host sync on accelerators); a NaN time (diverged training)
        # maps to segment 0 and surfaces as a non-finite loss or a step-count error.
        k = torch.nan_to_num(torch.floor(s), nan=0.0).clamp(0, self.n_segments - 1)
        u = s - k
        ks = torch.stack([k, k + 1]).long()
        t0, t1 = self.grid.index_select(1, ks).unbind(1)
        m0, m1 = self.tangents.index_select(1, ks).unbind(1)
        u2, u3 = u * u, u * u * u
        t = (
            (2 * u3 - 3 * u2 + 1) * t0
            + (u3 - 2 * u2 + u) * m0
            + (-2 * u3 + 3 * u2) * t1
            + (u3 - u2) * m1
        )
        pace = (6 * u2 - 6 * u) * (t0 - t1) + (3 * u2 - 4 * u + 1) * m0 + (3 * u2 - 2 * u) * m1
        dz = self.field(t, z)
        return dz * pace.to(dz.dtype).unsqueeze(-1)


class _FixedStepField(nn.Module):
    """Fixed-step methods: series ``i`` crosses segment ``k`` in exactly ``n_ik`` steps.

    Segment ``k`` of pseudo-time gets ``N_k = max_i n_ik`` equal steps, where
    ``n_ik = max(n_substeps, ceil(|Δ_ik| / step_size))``. Series ``i`` moves linearly through
    its gap during the first ``n_ik`` of them and then idles (pace 0), so each series takes
    the same steps as it would alone: results do not depend on the batch. Evaluations at
    step boundaries are perturbed inwards (torchdiffeq's ``perturb``), so a step never
    sees the pace of its neighbour.
    """

    def __init__(
        self,
        field: nn.Module,
        grid: torch.Tensor,
        counts: torch.Tensor,
        totals: torch.Tensor,
        counter: NFECounter,
    ) -> None:
        super().__init__()
        self.field = field
        self.counter = counter
        self.grid: torch.Tensor
        self.share: torch.Tensor
        self.register_buffer("grid", grid, persistent=False)  # (B, Q + 1)
        self.register_buffer("share", counts / totals, persistent=False)  # (B, Q) in (0, 1]
        self.n_segments = grid.shape[1] - 1

    def forward(self, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.counter.tick(1)
        s = s.to(self.grid.dtype)
        k = torch.nan_to_num(torch.floor(s), nan=0.0).clamp(0, self.n_segments - 1)
        u = s - k
        ks = torch.stack([k, k + 1]).long()
        t0, t1 = self.grid.index_select(1, ks).unbind(1)
        share = self.share.index_select(1, ks[:1]).squeeze(1)
        frac = torch.clamp(u / share, max=1.0)
        t = t0 + frac * (t1 - t0)
        pace = torch.where(u < share, (t1 - t0) / share, torch.zeros_like(t0))
        dz = self.field(t, z)
        return dz * pace.to(dz.dtype).unsqueeze(-1)


def _pseudo_grid(totals: torch.Tensor) -> torch.Tensor:
    """Pseudo-time grid with ``totals[k]`` equal steps on segment ``[k, k + 1]``."""
    counts = totals.long().cpu().tolist()
    pieces = [
        k + torch.arange(c, dtype=torch.float64, device=totals.device) / c
        for k, c in enumerate(counts)
    ]
    pieces.append(torch.tensor([float(len(counts))], dtype=torch.float64, device=totals.device))
    return torch.cat(pieces)


def _options(config: SolverConfig, totals: torch.Tensor | None) -> dict:
    if config.adaptive:
        return {"max_num_steps": config.max_num_steps}
    if totals is None:
        raise ValueError("A fixed-step solve needs the step totals of its segments.")
    grid = _pseudo_grid(totals)

    def constructor(func: object, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # The adjoint asks for one segment at a time, backwards (decreasing, or negated
        # increasing time): serve the part of the grid between t[0] and t[-1], in order.
        start, end = t[0].to(grid.dtype), t[-1].to(grid.dtype)
        full = -grid.flip(0) if bool(torch.minimum(start, end) < 0) else grid
        lo, hi = torch.minimum(start, end), torch.maximum(start, end)
        inner = full[(full > lo + 1e-9) & (full < hi - 1e-9)]
        if bool(start > end):
            inner = inner.flip(0)
        return torch.cat([start.reshape(1), inner, end.reshape(1)])

    return {"grid_constructor": constructor, "perturb": True}


class _StepGridField(nn.Module):
    """The fixed steps of a step grid as an ODE in pseudo-time ``s`` (for the adjoint).

    Step ``k`` of row ``i`` runs from ``start[i, k]`` over ``size[i, k]`` (0: the row has
    finished and stays as it is): on ``s ∈ [k, k + 1]``, ``t = start + (s - k)·size`` and
    ``dz/ds = size · f(t, z)``. One step of the same method per unit of ``s`` is then the
    direct solve's step: Euler's ``z + size·f(start, z)``, rk4's stages at thirds of it.
    """

    def __init__(
        self, field: nn.Module, start: torch.Tensor, size: torch.Tensor, counter: NFECounter
    ) -> None:
        super().__init__()
        self.field = field
        self.counter = counter
        self.start: torch.Tensor
        self.size: torch.Tensor
        self.register_buffer("start", start.to(torch.float64), persistent=False)  # (B, N)
        self.register_buffer("size", size.to(torch.float64), persistent=False)
        self.n_steps = start.shape[1]

    def forward(self, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.counter.tick(1)
        s = s.to(torch.float64)
        # torchdiffeq's perturb keeps an evaluation at a step's end inside that step
        k = torch.nan_to_num(torch.floor(s), nan=0.0).clamp(0, self.n_steps - 1)
        index = k.long().reshape(1)
        size = self.size.index_select(1, index).squeeze(1)  # (B,)
        t = self.start.index_select(1, index).squeeze(1) + (s - k) * size
        return self.field(t, z) * size.to(z.dtype).unsqueeze(-1)


def _adjoint_trajectory(config: SolverConfig) -> Callable[..., tuple[torch.Tensor, None]]:
    """A :func:`~latentode.nn._fixed_steps.solve_on_step_grid` trajectory through
    torchdiffeq's adjoint: the grid's steps as one unit of pseudo-time each
    (:class:`_StepGridField`), so the adjoint keeps the direct solve's steps (memory: the
    grid's states, not a graph) instead of stepping between the queries."""

    def trajectory(
        field: nn.Module,
        z0: torch.Tensor,
        start: torch.Tensor,
        size: torch.Tensor,
        method: str,
        counter: NFECounter,
    ) -> tuple[torch.Tensor, None]:
        n_steps = size.shape[1]
        if n_steps == 0:
            return z0.unsqueeze(-2), None
        func = _StepGridField(field, start, size, counter)
        s = torch.arange(n_steps + 1, dtype=torch.float64, device=z0.device)
        options = {"step_size": 1.0, "perturb": True}
        before = counter.calls
        with translate_solver_errors():
            zs = torchdiffeq.odeint_adjoint(
                func,
                z0,
                s,
                method=method,
                options=options,
                adjoint_options=options,
                adjoint_params=tuple(func.parameters()),
            )
        counter.forward += counter.calls - before
        return zs.movedim(0, -2), None

    return trajectory


def _odeint(
    func: nn.Module,
    z0: torch.Tensor,
    s: torch.Tensor,
    config: SolverConfig,
    totals: torch.Tensor | None,
) -> torch.Tensor:
    options = _options(config, totals)
    with translate_solver_errors():
        if config.adjoint:
            adjoint_options = dict(options)
            if config.adjoint_seminorm and config.adaptive:
                adjoint_options["norm"] = "seminorm"
            return torchdiffeq.odeint_adjoint(
                func,
                z0,
                s,
                rtol=config.rtol,
                atol=config.atol,
                method=config.method,
                options=options,
                adjoint_options=adjoint_options,
                adjoint_params=tuple(func.parameters()),
            )
        return torchdiffeq.odeint(
            func, z0, s, rtol=config.rtol, atol=config.atol, method=config.method, options=options
        )


def solve_on_grids(
    field: nn.Module,
    z0: torch.Tensor,
    t0: torch.Tensor,
    times: torch.Tensor,
    config: SolverConfig,
    counter: NFECounter | None = None,
) -> torch.Tensor:
    """Solve ``dz/dt = field(t, z)`` for each series on its own time grid.

    Parameters
    ----------
    field : nn.Module
        Vector field ``field(t, z)``; ``t`` has shape ``(n_series,)``.
    z0 : Tensor of shape (..., n_series, latent_dim)
        States at each series' start time (leading dims, e.g. posterior samples, allowed).
    t0 : Tensor of shape (n_series,)
        Start time of each series (float64 recommended).
    times : Tensor of shape (n_series, n_times)
        Query times of each series, ascending along a row (padding repeats a row's last
        time, which keeps the state frozen). Times before ``t0`` are allowed.
    config : SolverConfig
    counter : NFECounter, optional
        Incremented with the evaluations of this solve.

    Returns
    -------
    Tensor of shape (..., n_series, n_times, latent_dim)
    """
    counter = counter if counter is not None else NFECounter()
    n_series, n_times = times.shape
    if z0.shape[-2] != n_series or t0.shape != (n_series,):
        raise ValueError(
            f"solve_on_grids: z0 {tuple(z0.shape)}, t0 {tuple(t0.shape)} and times "
            f"{tuple(times.shape)} disagree on the number of series."
        )
    if n_times == 0:
        return z0.new_zeros((*z0.shape[:-1], 0, z0.shape[-1]))
    if config.adaptive and not config.adjoint and PER_SERIES_ADAPTIVE:
        before = counter.calls
        out = solve_rows_adaptive(
            field,
            z0,
            t0,
            times,
            _tableau(config.method),
            rtol=config.rtol,
            atol=config.atol,
            max_num_steps=config.max_num_steps,
            counter=counter,
        )
        counter.forward += counter.calls - before
        return out
    grid = torch.cat([t0.unsqueeze(1), times], dim=1).to(torch.float64)
    if config.method in DIRECT_METHODS and config.step_size is not None:
        trajectory = _adjoint_trajectory(config) if config.adjoint else None
        return solve_on_step_grid(field, z0, grid, config, counter, trajectory)
    if config.method in DIRECT_METHODS and not config.adjoint:
        return solve_fixed_direct(field, z0, grid, config, counter)
    grid, positions = _balanced_knots(grid)
    s = torch.arange(grid.shape[1], dtype=torch.float64, device=z0.device)
    if config.adaptive:
        func: nn.Module = _SegmentField(field, grid, counter)
        totals = None
    else:
        counts = step_counts(config, grid.diff(dim=1))
        check_step_budget(config, counts.sum(dim=1), grid)
        totals = counts.amax(dim=0)
        func = _FixedStepField(field, grid, counts, totals, counter)
    before = counter.calls
    zs = _odeint(func, z0, s, config, totals).movedim(0, -2)  # (..., B, M + 1, L)
    counter.forward += counter.calls - before
    index = positions.view(*([1] * (zs.dim() - 3)), n_series, n_times, 1)
    return torch.gather(zs, -2, index.expand(*zs.shape[:-2], n_times, zs.shape[-1]))


@functools.cache
def _tableau(method: str) -> Tableau:
    """The coefficients of torchdiffeq's adaptive ``method``, for the per-series solver."""
    solver = SOLVERS[method]
    table = solver.tableau

    def floats(x: torch.Tensor) -> tuple[float, ...]:
        return tuple(float(v) for v in x.tolist())

    return Tableau(
        alpha=floats(table.alpha),
        beta=tuple(floats(b) for b in table.beta),
        c_sol=floats(table.c_sol),
        c_error=floats(table.c_error),
        c_mid=floats(solver.mid),
        order=int(solver.order),
    )


def _balanced_knots(grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Place each series' query times on a shared knot grid so that no series runs fast.

    Series ``i`` with ``R_i`` distinct gaps puts its ``k``-th time on knot
    ``j_ik = round(R_i · (t_ik − t_i0) / span_i) + k``: strictly increasing, and a gap that
    covers a fraction ``φ`` of its span gets ``≈ R_i·φ + 1`` knots, so the series advances at
    most its *mean* gap per unit of pseudo-time, however uneven its spacing. (Knot ``k`` =
    query ``k`` would let one series' longest gap set the step size for the whole batch:
    measured 2–5× more evaluations on batches of irregular series.) The placement depends
    on the series alone, so fixed-step results stay independent of the batch. Knots past a
    series' last query, and between its own times, interpolate its time linearly.

    Returns the knot times ``(B, M + 1)`` and the knot of each query ``(B, Q)``.
    """
    n_series, n_knots = grid.shape
    n_times = n_knots - 1
    if n_times < 2:
        positions = torch.ones(n_series, n_times, dtype=torch.long, device=grid.device)
        return grid, positions
    gaps = grid.diff(dim=1)
    resolution = (gaps != 0).sum(dim=1, keepdim=True).clamp(min=1)
    rel = grid - grid[:, :1]
    span = rel.abs().amax(dim=1, keepdim=True)
    frac = torch.where(span > 0, rel / torch.where(span > 0, span, 1.0), 0.0).clamp(0.0, 1.0)
    # frac is non-decreasing along sorted queries; clamping keeps that for earlier ones.
    frac = torch.cummax(frac, dim=1).values
    steps = torch.arange(n_knots, device=grid.device)
    knots = torch.round(frac * resolution).long() + steps  # (B, Q + 1), knots[:, 0] == 0
    n_total = int(knots[:, -1].max().item()) + 1
    pos = torch.arange(n_total, device=grid.device, dtype=torch.float64)
    seg = (
        torch.searchsorted(
            knots.to(torch.float64), pos.expand(n_series, -1).contiguous(), right=True
        )
        - 1
    )
    seg = seg.clamp(0, n_times - 1)
    left, right = torch.gather(knots, 1, seg), torch.gather(knots, 1, seg + 1)
    t_left, t_right = torch.gather(grid, 1, seg), torch.gather(grid, 1, seg + 1)
    weight = ((pos - left) / (right - left)).clamp(0.0, 1.0)
    knot_times = t_left + weight * (t_right - t_left)
    return knot_times, knots[:, 1:]


def solve_intervals(
    field: nn.Module,
    z: torch.Tensor,
    start: torch.Tensor,
    delta: torch.Tensor,
    config: SolverConfig,
    counter: NFECounter | None = None,
) -> torch.Tensor:
    """Advance each row of ``z`` by its own time step ``delta`` (negative steps go back).

    Parameters
    ----------
    z : Tensor of shape (..., n, dim)
    start, delta : Tensor of shape (n,)
        Start time and signed length of each row's interval.

    Returns
    -------
    Tensor of shape (..., n, dim): the states at ``start + delta``.
    """
    if config.method in DIRECT_METHODS and not config.adjoint:
        counter = counter if counter is not None else NFECounter()
        plan = IntervalPlan(config, start.unsqueeze(1), delta.unsqueeze(1), z.dtype)
        return plan.advance(field, z, 0, counter)
    times = (start.to(torch.float64) + delta.to(torch.float64)).unsqueeze(1)
    out = solve_on_grids(field, z, start.to(torch.float64), times, config, counter)
    return out[..., 0, :]
