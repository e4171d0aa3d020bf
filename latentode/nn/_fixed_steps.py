"""Fixed-step solves without a shared pseudo-time (used by :mod:`latentode.nn.solve`).

``euler``, ``midpoint`` and ``rk4`` (the 3/8 rule, as torchdiffeq's ``rk4``) with direct
back-propagation step every series of a batch at once in one loop: each series takes
exactly its own steps, then steps of size zero (``z + 0·f = z``), so results never depend
on batch-mates and the number of steps is the longest series' own count. Adaptive methods
have their own per-series solver (:mod:`latentode.nn._adaptive`); the adjoint goes through
torchdiffeq in :mod:`latentode.nn.solve`.

The decoder paths (:func:`solve_fixed_direct`, :func:`solve_on_step_grid`) drop series
that have taken all their own steps from the rows they evaluate (:func:`fixed_trajectory`),
so one long series among short ones costs its own steps, not its steps times the batch size.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

import torch
from torch import nn

from latentode.exceptions import MaxStepsExceededError
from latentode.nn._fused_euler import fusable_field, fused_euler
from latentode.nn._nfe import NFECounter
from latentode.nn._scan import is_low_memory
from latentode.nn._solver_config import SolverConfig

__all__ = [
    "DIRECT_METHODS",
    "IntervalPlan",
    "check_step_budget",
    "direct_steps",
    "fixed_steps",
    "fixed_trajectory",
    "solve_fixed_direct",
    "solve_on_step_grid",
    "sorted_trajectory",
    "states_at",
    "step_counts",
]


#: Euler steps of an autonomous tanh MLP field, with gradients, run fused
#: (:mod:`latentode.nn._fused_euler`; ``benchmarks/fused.py`` sets this to compare).
FUSED = True


def step_counts(config: SolverConfig, gaps: torch.Tensor) -> torch.Tensor:
    """Steps each series needs on each segment: ``(B, Q)`` float64 ≥ ``n_substeps``."""
    n = torch.full_like(gaps, float(config.n_substeps))
    if config.step_size is not None:
        n = torch.maximum(n, torch.ceil(gaps.abs() / config.step_size))
    return n


def check_step_budget(config: SolverConfig, steps: torch.Tensor, reach: torch.Tensor) -> None:
    """Refuse a fixed-step solve that would take more than ``max_num_steps`` steps.

    ``steps`` is the number of steps each series (row) would take, ``reach`` the time it
    would step to. Checked before any state is allocated, so a query far beyond the data
    (or a non-finite time) fails at once with :class:`MaxStepsExceededError` naming the
    row, instead of running for minutes and allocating gigabytes.
    """
    if steps.numel() == 0:
        return
    bad = ~torch.isfinite(steps) | (steps > config.max_num_steps)
    if not bool(bad.any()):
        return
    row = int(torch.nonzero(bad.reshape(bad.shape[0], -1).any(dim=1))[0].item())
    n = float(steps.reshape(steps.shape[0], -1)[row].max().item())
    t = float(reach.reshape(reach.shape[0], -1)[row].abs().max().item())
    size = "its gaps" if config.step_size is None else f"step_size {config.step_size:g}"
    raise MaxStepsExceededError(
        f"A fixed-step solve would need {n:.3g} steps of {size} to reach normalised time "
        f"{t:.4g}, more than max_num_steps={config.max_num_steps}. Query times far beyond "
        "the data (or non-finite times) cause this: ask for times closer to the observed "
        "span, or raise 'max_num_steps' / 'step_size'.",
        row=row,
    )


DIRECT_METHODS = ("euler", "midpoint", "rk4")


class IntervalPlan:
    """The fixed steps of a sequence of intervals, planned at once.

    A step-by-step loop (the ODE-RNN encoder) advances its state over interval ``j`` at
    each of its steps; :func:`latentode.nn.solve.solve_intervals` would count the steps,
    check the budget and build the step grid there, a dozen small operations and two
    device synchronisations per observation. Here they are done once for all intervals
    ``(B, J)``, with the same operations element by element, so :meth:`advance` returns
    what ``solve_intervals`` would, bit for bit. An Euler interval of one step (the usual
    case: a gap shorter than ``step_size``) is a single ``z + h·f(t, z)``.

    Parameters
    ----------
    config : SolverConfig
        A direct fixed-step method (:data:`DIRECT_METHODS`, no adjoint).
    start, delta : Tensor of shape (B, J)
        Start time and signed length of every row's interval ``j``.
    dtype : torch.dtype
        The states' dtype.
    """

    def __init__(
        self, config: SolverConfig, start: torch.Tensor, delta: torch.Tensor, dtype: torch.dtype
    ) -> None:
        if config.method not in DIRECT_METHODS or config.adjoint:
            raise ValueError("IntervalPlan needs a direct fixed-step method without adjoint.")
        self.method = config.method
        self.start = start.to(torch.float64)
        delta = delta.to(torch.float64)
        self.counts = torch.where(delta != 0, step_counts(config, delta), 0.0)
        check_step_budget(config, self.counts, self.start + delta)
        self.h = delta / self.counts.clamp(min=1)
        n_steps = self.counts.amax(0).tolist() if delta.numel() else [0] * delta.shape[1]
        self.n_steps = [int(n) for n in n_steps]
        # one Euler step: size h where the row has a step, else 0 (a frozen row)
        self.single = torch.where(self.counts > 0, self.h, 0.0).to(dtype).unsqueeze(-1)

    def euler_sizes(self) -> tuple[torch.Tensor, list[int]]:
        """Every Euler step of every interval in order: sizes ``(E, B, 1)`` (0 where a row
        has fewer steps in that interval) and, per interval end ``j`` (``J + 1`` entries,
        from 0), the number of steps before it: :meth:`advance`'s steps, all at once."""
        n = torch.tensor(self.n_steps, dtype=torch.long, device=self.h.device)
        interval = torch.repeat_interleave(torch.arange(len(self.n_steps), device=n.device), n)
        first = torch.cumsum(n, 0) - n  # index of each interval's first step
        within = torch.arange(len(interval), device=n.device) - first[interval]
        counts, h = self.counts[:, interval].t(), self.h[:, interval].t()  # (E, B)
        sizes = torch.where(within.unsqueeze(-1).to(counts.dtype) < counts, h, 0.0)
        before = [0]
        for k in self.n_steps:
            before.append(before[-1] + k)
        return sizes.to(self.single.dtype).unsqueeze(-1), before

    def advance(
        self, field: nn.Module, z: torch.Tensor, j: int, counter: NFECounter
    ) -> torch.Tensor:
        """``z`` ``(..., B, L)`` advanced over interval ``j``."""
        n = self.n_steps[j]
        if n == 0:
            return z
        if n == 1 and self.method == "euler":
            z = z + self.single[:, j] * field(self.start[:, j], z)
            counter.tick(1)
            counter.forward += 1
            return z
        steps = torch.arange(n, dtype=torch.float64, device=self.h.device)
        h = self.h[:, j : j + 1]
        size = torch.where(steps < self.counts[:, j : j + 1], h, 0.0)
        starts = self.start[:, j : j + 1] + steps * h
        return fixed_steps(field, z, starts, size, self.method, counter)[-1]


def direct_steps(
    config: SolverConfig, grid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each series' own step sequence, padded with zero steps to the longest one.

    Series ``i`` crosses its gap ``Δ_ik`` (from query ``k - 1`` to query ``k``) in
    ``n_ik = max(n_substeps, ceil(|Δ_ik| / step_size))`` equal steps (none for a zero gap).

    Returns the start times ``(B, N)`` and sizes ``(B, N)`` of the steps (float64; zero-size
    steps after a series' own last one) and, per query, the number of steps taken when it
    is reached ``(B, Q)``.
    """
    gaps = grid.diff(dim=1)  # (B, Q)
    counts = torch.where(gaps != 0, step_counts(config, gaps), 0.0)
    check_step_budget(config, counts.sum(dim=1), grid)
    counts = counts.long()
    ends = counts.cumsum(dim=1)  # steps taken on reaching each query
    totals = ends[:, -1]
    n_series, n_gaps = counts.shape
    n_steps = int(totals.max().item()) if n_series else 0
    # Steps in row-major order: series by series, gap by gap.
    gap_of_step = torch.repeat_interleave(
        torch.arange(n_series * n_gaps, device=grid.device), counts.flatten()
    )
    row, col = gap_of_step // n_gaps, gap_of_step % n_gaps
    position = torch.arange(gap_of_step.numel(), device=grid.device) - torch.repeat_interleave(
        totals.cumsum(0) - totals, totals
    )
    k = (position - (ends - counts)[row, col]).to(grid.dtype)  # step number within its gap
    h = (gaps / counts.clamp(min=1))[row, col]
    size = grid.new_zeros(n_series, n_steps)
    start = grid[:, -1:].expand(n_series, n_steps).clone()
    size[row, position] = h
    start[row, position] = grid[row, col] + k * h
    return start, size, ends


def solve_fixed_direct(
    field: nn.Module,
    z0: torch.Tensor,
    grid: torch.Tensor,
    config: SolverConfig,
    counter: NFECounter,
) -> torch.Tensor:
    """Euler, midpoint or RK4 (3/8 rule, as torchdiffeq's ``rk4``) stepping each series
    through its own steps at once, without a shared pseudo-time.

    Every series takes exactly the steps it would take alone, then zero-size steps
    (``z + 0·f = z``): results are independent of the batch, and the number of steps is the
    longest series' own count, not a count over shared knots. Used for direct
    back-propagation; the adjoint goes through torchdiffeq.
    """
    start, size, ends = direct_steps(config, grid)
    zs, rows = sorted_trajectory(field, z0, start, size, config.method, counter)
    return states_at(zs, ends, rows)


def states_at(
    zs: torch.Tensor, index: torch.Tensor, rows: torch.Tensor | None = None
) -> torch.Tensor:
    """Each series' states at its own steps: ``zs[..., b, index[b, q], :]`` ``(..., B, Q, L)``
    from a trajectory ``zs`` ``(..., B, N, L)`` and ``index`` ``(B, Q)``; with ``rows``
    ``(B,)``, series ``b``'s trajectory is row ``rows[b]`` of ``zs`` (as
    :func:`sorted_trajectory` returns it).

    One ``index_select`` of whole state rows (a gather with the index expanded over the
    leading and latent dimensions took 3x as long on CPU). ``zs`` may be laid out step by
    step in memory (``(..., N, B, L)`` transposed, as :func:`sorted_trajectory` writes it
    without gradients): its rows are then read where they lie, without a copy."""
    n_series, n = zs.shape[-3], zs.shape[-2]
    if rows is None:
        rows = torch.arange(n_series, device=index.device)
    rows = rows.to(index.device).unsqueeze(1)
    by_step = zs.transpose(-2, -3)
    if by_step.is_contiguous():  # row (k, b) of the flat view is step k of series b
        flat = by_step.reshape(*zs.shape[:-3], n * n_series, zs.shape[-1])
        flat_index = index.long() * n_series + rows
    else:
        flat = zs.reshape(*zs.shape[:-3], n_series * n, zs.shape[-1])
        flat_index = index.long() + n * rows
    picked = flat.index_select(-2, flat_index.reshape(-1))
    return picked.view(*zs.shape[:-3], *index.shape, zs.shape[-1])


#: ``trajectory(field, z0, start, size, method, counter) -> (states, rows)`` as
#: :func:`sorted_trajectory`: how :func:`solve_on_step_grid` takes its grid's steps.
Trajectory = Callable[
    [nn.Module, torch.Tensor, torch.Tensor, torch.Tensor, str, NFECounter],
    tuple[torch.Tensor, torch.Tensor | None],
]


def solve_on_step_grid(
    field: nn.Module,
    z0: torch.Tensor,
    grid: torch.Tensor,
    config: SolverConfig,
    counter: NFECounter,
    trajectory: Trajectory | None = None,
) -> torch.Tensor:
    """Fixed steps of exactly ``step_size`` from each series' start, whatever the queries.

    Series ``i`` steps along ``t_i0 ± j·step_size`` (forwards for later queries, backwards
    for earlier ones); a query between grid points is reached by one partial step of the
    same method from the grid point before it (all queries at once, as one batch). The
    trajectory therefore does not depend on which times are asked for — a model trained on
    one set of target times predicts the same values at any other — and the number of
    steps is ``span / step_size``, not the number of queries.

    Euler's partial step from grid point ``z_k`` is ``z_k + r·(z_{k+1} - z_k)`` with
    ``r = partial / step_size``: the grid's next step has already evaluated
    ``f(t_k, z_k)``. So Euler takes one more grid step per series instead of a partial
    step per query — one field evaluation of the batch rather than one of every
    (series, query) row (with 100 query times and 32 samples, 3,200 rows per series).

    ``trajectory`` takes the grid's steps (default :func:`sorted_trajectory`, direct
    back-propagation); :mod:`latentode.nn.solve` passes torchdiffeq's adjoint for
    ``adjoint=True``. The partial steps of the other methods stay direct.
    """
    t0, times = grid[:, 0], grid[:, 1:]
    n_series, n_times = times.shape
    if config.step_size is None:
        raise ValueError("solve_on_step_grid needs a SolverConfig with a step_size.")
    h = float(config.step_size)
    ahead = torch.floor((times - t0.unsqueeze(1)).clamp(min=0.0) / h).amax(dim=1)
    behind = torch.floor((t0.unsqueeze(1) - times).clamp(min=0.0) / h).amax(dim=1)
    check_step_budget(config, ahead + behind, grid)
    out = z0.unsqueeze(-2).expand(*z0.shape[:-1], n_times, z0.shape[-1])
    for sign in (1.0, -1.0):
        dist = (times - t0.unsqueeze(1)) * sign  # (B, Q), > 0 on this side
        side = dist > 0
        if not bool(side.any()):
            continue
        dist = dist.clamp(min=0.0)
        full = torch.floor(dist / h)  # full steps before each query
        counts = full.amax(dim=1)  # (B,)
        euler = config.method == "euler"
        if euler:  # the step after the last grid point before a query
            counts = counts + side.any(dim=1).to(counts.dtype)
        n_steps = int(counts.max().item())
        j = torch.arange(n_steps, dtype=grid.dtype, device=grid.device)
        size = torch.where(j < counts.unsqueeze(1), sign * h, 0.0).expand(n_series, n_steps)
        start = t0.unsqueeze(1) + sign * h * j
        take = sorted_trajectory if trajectory is None else trajectory
        zs, rows = take(field, z0, start, size, config.method, counter)
        base = states_at(zs, full, rows)
        if euler:
            # the side's queries lie before each series' last state, so index + 1 exists
            nxt = states_at(zs, torch.where(side, full + 1, full), rows)
            r = ((dist - h * full) / h).to(zs.dtype)  # (B, Q) in [0, 1)
            # (B, Q, L) laid out in memory: broadcast over the samples only, the product is
            # vectorised along L (6x faster on CPU than broadcasting a (B, Q, 1) factor)
            r = r.unsqueeze(-1).expand(*r.shape, zs.shape[-1]).contiguous()
            # base + r · (nxt - base), in place on the fresh nxt (the same operations)
            interpolated = nxt.sub_(base).mul_(r).add_(base)
            # a forecast's queries all lie after t0: no selection needed on that side
            all_side = bool(side.all())
            out = interpolated if all_side else torch.where(side.unsqueeze(-1), interpolated, out)
            continue
        # One partial step per query, all queries as one batch of B·Q rows.
        flat = base.reshape(*base.shape[:-3], n_series * n_times, base.shape[-1])
        t_base = (t0.unsqueeze(1) + sign * h * full).reshape(-1)
        partial = ((dist - h * full) * sign).reshape(-1, 1)
        stepped = fixed_steps(field, flat, t_base.unsqueeze(1), partial, config.method, counter)[
            -1
        ].reshape(base.shape)
        out = torch.where(side.unsqueeze(-1), stepped, out)
    return out


def fixed_steps(
    field: nn.Module,
    z0: torch.Tensor,
    start: torch.Tensor,
    size: torch.Tensor,
    method: str,
    counter: NFECounter,
) -> list[torch.Tensor]:
    """Take step ``j`` of size ``size[:, j]`` from time ``start[:, j]`` for every series.

    Returns the states before the first and after every step (``N + 1`` tensors).
    """
    no_grad = not torch.is_grad_enabled()
    # memory="low" keeps the step loop: there the fused steps' buffers raised the peak at
    # 10,000 points by 3 % (545 -> 563 MB), against the +10 % per 10x length it promises
    if method == "euler" and not no_grad and FUSED and not is_low_memory() and fusable_field(field):
        n = size.shape[1]
        counter.tick(n)
        counter.forward += n
        return list(fused_euler(field, z0, size).unbind(0))
    h_all = size.to(z0.dtype).unsqueeze(-1)  # (B, N, 1)
    states = [z0]
    z = z0
    before = counter.calls
    for j in range(size.shape[1]):
        t, h = start[:, j], h_all[:, j]
        if method == "euler":
            # Without gradients the fresh product takes the sum in place (the same values)
            z = (h * field(t, z)).add_(z) if no_grad else z + h * field(t, z)
            counter.tick(1)
        elif method == "midpoint":
            k1 = field(t, z)
            z = z + h * field(t + 0.5 * size[:, j], z + 0.5 * h * k1)
            counter.tick(2)
        else:  # rk4: the 3/8 rule, as torchdiffeq's "rk4"
            third = size[:, j] / 3
            k1 = field(t, z)
            k2 = field(t + third, z + h * k1 / 3)
            k3 = field(t + 2 * third, z + h * (k2 - k1 / 3))
            k4 = field(t + size[:, j], z + h * (k1 - k2 + k3))
            z = z + h * (k1 + 3 * (k2 + k3) + k4) / 8
            counter.tick(4)
        states.append(z)
    counter.forward += counter.calls - before
    return states


#: :func:`fixed_trajectory` stops evaluating finished series once this fraction of the rows
#: it evaluates have finished (so a batch costs at most 1 / (1 - fraction) times the sum of
#: its series' own steps, while the rows are re-sliced only a few times per solve).
COMPACT_FRACTION = 0.25


def fixed_trajectory(
    field: nn.Module,
    z0: torch.Tensor,
    start: torch.Tensor,
    size: torch.Tensor,
    method: str,
    counter: NFECounter,
) -> torch.Tensor:
    """The states of :func:`fixed_steps` stacked ``(..., B, N + 1, L)``, computed on the
    unfinished series only (:func:`sorted_trajectory`, its rows put back in order).

    Results equal :func:`fixed_steps` to rounding (a zero step returns its state
    unchanged). ``field`` must treat rows independently (the latent fields do; FFJORD's
    dynamics, with its per-solve noise, does not and is solved by :func:`fixed_steps`).
    """
    zs, rows = sorted_trajectory(field, z0, start, size, method, counter)
    return zs if rows is None else zs.index_select(-3, rows)


def sorted_trajectory(
    field: nn.Module,
    z0: torch.Tensor,
    start: torch.Tensor,
    size: torch.Tensor,
    method: str,
    counter: NFECounter,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The states of :func:`fixed_steps` ``(..., B, N + 1, L)`` with their rows in an order
    of this function's choosing, and where each series' row is (``rows`` ``(B,)``; None:
    in order), computed on the unfinished series only: :func:`states_at` reads them with
    ``rows``, so the trajectory is never copied back into series order.

    A series has finished once its remaining steps all have size zero (its state stays as
    it is). Series are ordered by their own number of steps, and whenever a quarter of the
    rows being evaluated have finished (:data:`COMPACT_FRACTION`) those are dropped; their
    later states are their final state. Results equal :func:`fixed_steps` to rounding (a
    zero step returns its state unchanged), and a batch with one long series costs that
    series' steps plus the others' own steps, instead of the long series' steps for every
    row. ``field`` must treat rows independently (see :func:`fixed_trajectory`).

    Without gradients the states are written straight into one trajectory tensor (with
    them, into segments joined at the end, as autograd needs).
    """
    n_rows, n_steps = size.shape
    j = torch.arange(1, n_steps + 1, device=size.device)
    own = torch.where(size != 0, j, 0).amax(dim=1) if n_steps else j.new_zeros(n_rows)
    order = torch.argsort(own, descending=True, stable=True)
    own_sorted = own[order].tolist()
    if n_rows <= 1 or n_steps == 0 or own_sorted[-1] >= n_steps:  # nobody finishes early
        # stacked step by step (contiguous blocks; :func:`states_at` reads either layout)
        states = fixed_steps(field, z0, start, size, method, counter)
        return torch.stack(states, dim=-3).transpose(-2, -3), None
    negated = [-o for o in own_sorted]  # ascending, for bisect

    def unfinished_after(step: int) -> int:  # rows whose own steps go beyond ``step``
        return bisect.bisect_left(negated, -step)

    z = z0.index_select(-2, order)
    start, size = start[order], size[order]
    rows = torch.argsort(order)
    if not torch.is_grad_enabled():
        return _trajectory_into(field, z, start, size, method, counter, own_sorted), rows
    pieces: list[torch.Tensor] = []  # the trajectory, in step segments (..., B, n, L)
    dropped: list[torch.Tensor] = []  # final states of finished rows, latest drop first
    active, j0, states = n_rows, 0, [z]
    while active:
        # run until at least COMPACT_FRACTION of the active rows have finished
        keep = int(active * (1.0 - COMPACT_FRACTION))
        j1 = min(max(j0 + 1, own_sorted[keep]), n_steps)
        seg = fixed_steps(field, z, start[:active, j0:j1], size[:active, j0:j1], method, counter)
        piece = torch.stack(states + seg[1:], dim=-2)  # (..., active, n, L)
        if dropped:
            rest = torch.cat(dropped, dim=-2)
            rest = rest.unsqueeze(-2).expand(*rest.shape[:-1], piece.shape[-2], rest.shape[-1])
            piece = torch.cat([piece, rest], dim=-3)
        pieces.append(piece)
        still = unfinished_after(j1) if j1 < n_steps else 0
        dropped.insert(0, seg[-1][..., still:active, :])
        z, active, j0, states = seg[-1][..., :still, :], still, j1, []
    zs = torch.cat(pieces, dim=-2)
    if zs.shape[-2] < n_steps + 1:  # the last steps are zero steps for every row
        last = zs[..., -1:, :]
        pad = last.expand(*last.shape[:-2], n_steps + 1 - zs.shape[-2], last.shape[-1])
        zs = torch.cat([zs, pad], dim=-2)
    return zs, rows


def _trajectory_into(
    field: nn.Module,
    z: torch.Tensor,
    start: torch.Tensor,
    size: torch.Tensor,
    method: str,
    counter: NFECounter,
    own: list[int],
) -> torch.Tensor:
    """:func:`sorted_trajectory`'s loop without gradients, on rows sorted by their own
    number of steps ``own`` (descending): each state is written once into the trajectory
    ``(..., B, N + 1, L)``, a finished row's later states are its final one.

    The trajectory is stored step by step (``(..., N + 1, B, L)`` in memory, returned
    transposed): each step's states are one contiguous block instead of ``B`` rows strided
    ``N + 1`` states apart."""
    n_rows, n_steps = size.shape
    zs = z.new_empty((*z.shape[:-2], n_steps + 1, n_rows, z.shape[-1]))
    zs[..., 0, :, :] = z
    negated = [-o for o in own]
    active, j0 = n_rows, 0
    while active:
        keep = int(active * (1.0 - COMPACT_FRACTION))
        j1 = min(max(j0 + 1, own[keep]), n_steps)
        seg = fixed_steps(field, z, start[:active, j0:j1], size[:active, j0:j1], method, counter)
        for k, state in enumerate(seg[1:], start=j0 + 1):
            zs[..., k, :active, :] = state
        still = bisect.bisect_left(negated, -j1) if j1 < n_steps else 0
        if j1 < n_steps:  # the finished rows stay at their last state
            zs[..., j1 + 1 :, still:active, :] = seg[-1][..., still:active, :].unsqueeze(-3)
        z, active, j0 = seg[-1][..., :still, :], still, j1
    return zs.transpose(-2, -3)
