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
stands for the series' own ``t_ik``. On the segment ``s ∈ [k, k+1]`` time advances linearly,
``t = t_ik + (s − k)·Δ_ik`` with ``Δ_ik = t_i,k+1 − t_ik``, so the chain rule gives::

    dz_i/ds = Δ_ik · f(t, z_i)

All series share the output grid ``s = 0, 1, …, Q``: the solver returns exactly each
series' own query times, and cost grows with the *longest* series (Q), never with the
union. Padding uses ``Δ = 0`` (the state stays frozen). A negative ``Δ`` integrates
backwards, so queries before the start time work too. The scaling ``Δ_ik`` jumps at integer
``s``; adaptive solvers are told so through ``jump_t`` (they stop exactly there and
re-evaluate ``f``), fixed-step solvers take ``n_substeps`` steps per segment with
perturbed evaluations at the boundaries.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator

import torch
import torchdiffeq
from torch import nn

from latentode.exceptions import MaxStepsExceededError, ParameterError, SolverError

__all__ = [
    "ADAPTIVE_METHODS",
    "FIXED_METHODS",
    "NFECounter",
    "SolverConfig",
    "solve_intervals",
    "solve_on_grids",
    "translate_solver_errors",
]

ADAPTIVE_METHODS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
FIXED_METHODS = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams")

#: Vector field protocol: ``field(t, z)`` with per-series times ``t`` of shape ``(B,)`` and
#: states ``z`` of shape ``(..., B, L)``; returns ``dz/dt`` with the shape of ``z``.
VectorField = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class SolverConfig:
    """How to solve an ODE (validated on construction).

    Parameters
    ----------
    method : str
        A torchdiffeq method: adaptive (``"dopri5"``, ``"dopri8"``, ``"bosh3"``,
        ``"fehlberg2"``, ``"adaptive_heun"``) or fixed-step (``"euler"``, ``"midpoint"``,
        ``"rk4"``, ``"explicit_adams"``, ``"implicit_adams"``).
    rtol, atol : float
        Tolerances of adaptive methods.
    adjoint : bool
        Back-propagate with the adjoint method (memory O(1) in the number of steps, but
        slower on CPU) instead of through the solver's operations.
    max_num_steps : int
        Adaptive methods raise :class:`~latentode.exceptions.MaxStepsExceededError` after
        this many steps in one solve.
    n_substeps : int
        Fixed-step methods take this many equal steps between consecutive query times.
    adjoint_seminorm : bool
        Use the seminorm of Kidger et al. (2021) for the adjoint's error control (fewer
        backward steps, same gradients to tolerance).
    """

    method: str = "dopri5"
    rtol: float = 1e-3
    atol: float = 1e-4
    adjoint: bool = False
    max_num_steps: int = 10_000
    n_substeps: int = 1
    adjoint_seminorm: bool = True

    def __post_init__(self) -> None:
        if self.method not in ADAPTIVE_METHODS + FIXED_METHODS:
            raise ParameterError(
                f"The 'method' of SolverConfig must be one of "
                f"{list(ADAPTIVE_METHODS + FIXED_METHODS)}. Got {self.method!r} instead."
            )
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ParameterError(
                    f"The '{name}' of SolverConfig must be a float in the range (0, inf). "
                    f"Got {value!r} instead."
                )
        for name in ("max_num_steps", "n_substeps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(
                    f"The '{name}' of SolverConfig must be an int in the range [1, inf). "
                    f"Got {value!r} instead."
                )

    @property
    def adaptive(self) -> bool:
        return self.method in ADAPTIVE_METHODS


class NFECounter:
    """Counts vector-field evaluations, split into forward and backward passes.

    ``forward`` counts evaluations made while solving forward; ``backward`` those made
    afterwards by an adjoint backward solve (0 for direct back-propagation, whose backward
    pass replays the recorded graph instead of calling ``f``).
    """

    def __init__(self) -> None:
        self.calls = 0
        self.forward = 0

    @property
    def backward(self) -> int:
        return self.calls - self.forward

    def reset(self) -> None:
        self.calls = 0
        self.forward = 0


class _SegmentField(nn.Module):
    """``dz/ds = Δ_ik · f(t(s), z)`` on the segment ``s ∈ [k, k+1]`` (see module docstring)."""

    def __init__(
        self, field: nn.Module, starts: torch.Tensor, deltas: torch.Tensor, counter: NFECounter
    ) -> None:
        super().__init__()
        self.field = field
        self.counter = counter
        self.register_buffer("starts", starts, persistent=False)  # (B, Q) float64
        self.register_buffer("deltas", deltas, persistent=False)  # (B, Q) float64
        self.n_segments = deltas.shape[1]

    def forward(self, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.counter.calls += 1
        # Index with a tensor (no host sync on accelerators).
        k = torch.clamp(torch.floor(s), 0, self.n_segments - 1).long().view(1)
        delta = self.deltas.index_select(1, k).squeeze(1)
        start = self.starts.index_select(1, k).squeeze(1)
        t = start + (s.to(delta.dtype) - k.to(delta.dtype)) * delta
        dz = self.field(t, z)
        return dz * delta.to(dz.dtype).unsqueeze(-1)


def _options(config: SolverConfig, jumps: torch.Tensor | None) -> dict:
    if config.adaptive:
        options: dict = {"max_num_steps": config.max_num_steps}
        if jumps is not None and jumps.numel() > 0:
            options["jump_t"] = jumps
        return options
    return {"step_size": 1.0 / config.n_substeps, "perturb": True}


def _odeint(
    func: nn.Module, z0: torch.Tensor, s: torch.Tensor, config: SolverConfig, jumps
) -> torch.Tensor:
    options = _options(config, jumps)
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
    grid = torch.cat([t0.unsqueeze(1), times], dim=1).to(torch.float64)
    deltas = grid.diff(dim=1)
    func = _SegmentField(field, grid[:, :-1], deltas, counter)
    s = torch.arange(n_times + 1, dtype=torch.float64, device=z0.device)
    before = counter.calls
    zs = _odeint(func, z0, s, config, s[1:-1])
    counter.forward += counter.calls - before
    return zs[1:].movedim(0, -2)


class _IntervalField(nn.Module):
    """``dz/ds = Δ_i · f(t_i + s·Δ_i, z)`` for ``s ∈ [0, 1]``."""

    def __init__(
        self, field: nn.Module, start: torch.Tensor, delta: torch.Tensor, counter: NFECounter
    ) -> None:
        super().__init__()
        self.field = field
        self.counter = counter
        self.register_buffer("start", start, persistent=False)
        self.register_buffer("delta", delta, persistent=False)

    def forward(self, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.counter.calls += 1
        t = self.start + s.to(self.delta.dtype) * self.delta
        dz = self.field(t, z)
        return dz * self.delta.to(dz.dtype).unsqueeze(-1)


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
    counter = counter if counter is not None else NFECounter()
    func = _IntervalField(field, start.to(torch.float64), delta.to(torch.float64), counter)
    s = torch.tensor([0.0, 1.0], dtype=torch.float64, device=z.device)
    before = counter.calls
    out = _odeint(func, z, s, config, None)[-1]
    counter.forward += counter.calls - before
    return out


@contextlib.contextmanager
def translate_solver_errors() -> Iterator[None]:
    """Turn torchdiffeq's ``AssertionError`` for step failures into typed errors.

    Used around forward solves and around ``loss.backward()`` (where the adjoint solves).
    """
    try:
        yield
    except AssertionError as exc:
        message = str(exc)
        if "max_num_steps" in message:
            raise MaxStepsExceededError(
                f"The ODE solver exceeded max_num_steps ({message}). The dynamics became "
                "stiff or the tolerances are too tight: raise 'max_num_steps', loosen "
                "'rtol'/'atol', lower the learning rate, or use a fixed-step method."
            ) from exc
        if "underflow" in message:
            raise SolverError(
                f"The ODE solver's step size underflowed ({message}); the dynamics are "
                "stiff or diverging. Loosen the tolerances or lower the learning rate."
            ) from exc
        raise
