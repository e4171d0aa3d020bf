"""Continuous normalising flows (FFJORD; Grathwohl et al., ICLR 2019).

A CNF block moves a point by an ODE ``dz/dt = f(t, z; c)`` on ``t ∈ [0, T]`` and tracks its
log-density with the instantaneous change of variables::

    d log p(z(t)) / dt = -tr(∂f/∂z)

so the flow map ``φ: z(0) ↦ z(T)`` has ``log p_T(φ(z)) = log p_0(z) - ∫_0^T tr(∂f/∂z) dt``.
*Forward* (``reverse=False``) runs ``0 → T`` (base → data, i.e. sampling); *reverse* runs
``T → 0`` (data → base, i.e. density evaluation). Every call returns
``delta_logp = log p_out(output) - log p_in(input)`` (which equals ``-log|det ∂out/∂in|``).

Field and trace
---------------
The vector field is a :class:`ConcatSquashField` (:mod:`latentode.nn._concat_squash`): an
MLP of concat-squash layers that returns Jacobian–vector products with its value. The
augmented dynamics (:mod:`latentode.nn._trace`) turn them into the exact trace or
Hutchinson's estimate of it (``divergence``), plus the kinetic-energy and Frobenius-norm
regularisers (``regularize=True``).

Solver state
------------
The augmented state is one tensor ``[z, log p, (kinetic, frobenius), context]`` solved by
:func:`latentode.nn.solve.solve_intervals`; the context rides along with zero derivative so
that adjoint back-propagation (which differentiates only states and parameters) reaches it.
Components with zero derivative have zero error estimate, so the tolerances are scaled by
``sqrt(n_active / n_total)`` to keep the solver's RMS error norm equal to the norm over the
active components alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from latentode.exceptions import ParameterError
from latentode.nn._checks import check_choice
from latentode.nn._concat_squash import ACTIVATIONS, ConcatSquashField
from latentode.nn._trace import DIVERGENCES, NOISES, AugmentedField, draw_probe
from latentode.nn.mixture import GaussianMixtureBase
from latentode.nn.solve import NFECounter, SolverConfig, solve_intervals

__all__ = [
    "ACTIVATIONS",
    "CNF",
    "DIVERGENCES",
    "NOISES",
    "CNFBlock",
    "CNFOutput",
    "ConcatSquashField",
]


class CNFOutput(NamedTuple):
    """Result of a flow.

    z : (..., n, dim) the transported points;
    delta_logp : (..., n) ``log p_out(z_out) - log p_in(z_in)``;
    kinetic, frobenius : (..., n) the regularisation integrals (zeros when not tracked).
    """

    z: torch.Tensor
    delta_logp: torch.Tensor
    kinetic: torch.Tensor
    frobenius: torch.Tensor


class CNFBlock(nn.Module):
    """One continuous normalising flow ``z(0) ↦ z(T)`` with its log-determinant.

    Parameters
    ----------
    field : ConcatSquashField
    time_length : float, default=1.0
        Integration time ``T``.
    divergence : {"exact", "hutchinson"}, default="exact"
    noise : {"rademacher", "gaussian"}, default="rademacher"
        Distribution of Hutchinson's probe vector (drawn once per solve).
    solver : SolverConfig, optional
        Default: dopri5 with ``rtol = atol = 1e-5``.
    regularize : bool, default=False
        Also integrate the kinetic energy and the Jacobian Frobenius norm.
    """

    def __init__(
        self,
        field: ConcatSquashField,
        *,
        time_length: float = 1.0,
        divergence: str = "exact",
        noise: str = "rademacher",
        solver: SolverConfig | None = None,
        regularize: bool = False,
    ) -> None:
        super().__init__()
        check_choice(divergence, DIVERGENCES, "divergence", "CNFBlock")
        check_choice(noise, NOISES, "noise", "CNFBlock")
        if not (isinstance(time_length, (int, float)) and time_length > 0):
            raise ParameterError(
                "The 'time_length' of CNFBlock must be a float in the range (0, inf). "
                f"Got {time_length!r} instead."
            )
        self.dim = field.dim
        self.context_dim = field.context_dim
        self.time_length = float(time_length)
        self.noise = noise
        self.solver = solver if solver is not None else SolverConfig(rtol=1e-5, atol=1e-5)
        self.regularize = regularize
        self.dynamics = AugmentedField(field, divergence, regularize)

    @property
    def divergence(self) -> str:
        return self.dynamics.divergence

    @divergence.setter
    def divergence(self, value: str) -> None:
        check_choice(value, DIVERGENCES, "divergence", "CNFBlock")
        self.dynamics.divergence = value

    def forward(
        self,
        z: torch.Tensor,
        context: torch.Tensor | None = None,
        *,
        reverse: bool = False,
        generator: torch.Generator | None = None,
        counter: NFECounter | None = None,
    ) -> CNFOutput:
        """Transport ``z`` forward (``0 → T``) or in reverse (``T → 0``).

        Parameters
        ----------
        z : Tensor of shape (..., n, dim)
        context : Tensor of shape (..., n, context_dim), optional
            Required when the field was built with ``context_dim > 0``; broadcast over the
            leading dimensions of ``z``.
        reverse : bool, default=False
        generator : torch.Generator, optional
            Draws Hutchinson's probe.
        counter : NFECounter, optional
            Incremented with the solver's evaluations.

        Returns
        -------
        CNFOutput
        """
        if z.shape[-1] != self.dim:
            raise ParameterError(
                f"CNFBlock expected states with last dimension {self.dim}; got shape "
                f"{tuple(z.shape)}. Pass z of shape (..., n, {self.dim})."
            )
        parts = [z, z.new_zeros((*z.shape[:-1], 1 + 2 * self.regularize))]
        if self.context_dim:
            if context is None or context.shape[-1] != self.context_dim:
                got = None if context is None else tuple(context.shape)
                raise ParameterError(
                    f"CNFBlock expected a context of shape (..., n, {self.context_dim}); "
                    f"got {got}. Pass the conditioning vector of each row."
                )
            parts.append(context.to(z.dtype).expand(*z.shape[:-1], self.context_dim))
        state = torch.cat(parts, dim=-1)
        if self.divergence == "hutchinson":
            self.dynamics.noise = draw_probe(z, self.noise, generator)
        n_active = self.dim + 1 + 2 * self.regularize
        factor = math.sqrt(n_active / state.shape[-1])
        config = dataclasses.replace(
            self.solver, rtol=self.solver.rtol * factor, atol=self.solver.atol * factor
        )
        n = z.shape[-2]
        t_end = torch.full((n,), self.time_length, dtype=torch.float64, device=z.device)
        start = t_end if reverse else torch.zeros_like(t_end)
        delta = -t_end if reverse else t_end
        try:
            out = solve_intervals(self.dynamics, state, start, delta, config, counter)
        finally:
            self.dynamics.noise = None
        d = self.dim
        sign = -1.0 if reverse else 1.0
        if self.regularize:
            kinetic, frobenius = sign * out[..., d + 1], sign * out[..., d + 2]
        else:
            kinetic = frobenius = out.new_zeros(out.shape[:-1])
        return CNFOutput(out[..., :d], out[..., d], kinetic, frobenius)


class CNF(nn.Module):
    """A stack of :class:`CNFBlock` s applied in sequence (reversed order for ``reverse``).

    Parameters
    ----------
    blocks : sequence of CNFBlock
        Blocks of equal ``dim`` and ``context_dim``.

    Attributes
    ----------
    counter : NFECounter
        Function evaluations of all blocks (forward and adjoint backward).
    """

    def __init__(self, blocks: Sequence[CNFBlock]) -> None:
        super().__init__()
        if not blocks:
            raise ParameterError("CNF needs at least one CNFBlock. Got none.")
        dims = {(b.dim, b.context_dim) for b in blocks}
        if len(dims) != 1:
            raise ParameterError(
                f"Every CNFBlock of a CNF must share dim and context_dim. Got {sorted(dims)}."
            )
        self.blocks = nn.ModuleList(blocks)
        self.dim, self.context_dim = dims.pop()
        self.counter = NFECounter()
        #: The base distribution's module (``log_prob``, ``sample``), or None for N(0, I).
        self.base: GaussianMixtureBase | None = None

    @classmethod
    def build(
        cls,
        dim: int,
        *,
        hidden_dims: Sequence[int] = (64, 64, 64),
        n_blocks: int = 1,
        context_dim: int = 0,
        activation: str = "tanh",
        time_length: float = 1.0,
        divergence: str = "exact",
        noise: str = "rademacher",
        solver: SolverConfig | None = None,
        regularize: bool = False,
        base: GaussianMixtureBase | None = None,
    ) -> CNF:
        """``n_blocks`` blocks, each with its own :class:`ConcatSquashField`; ``base`` a
        base distribution other than ``N(0, I)`` (e.g.
        :class:`~latentode.nn.mixture.GaussianMixtureBase`)."""
        flow = cls(
            [
                CNFBlock(
                    ConcatSquashField(
                        dim, hidden_dims, context_dim=context_dim, activation=activation
                    ),
                    time_length=time_length,
                    divergence=divergence,
                    noise=noise,
                    solver=solver,
                    regularize=regularize,
                )
                for _ in range(n_blocks)
            ]
        )
        flow.base = base
        return flow

    def set_divergence(self, divergence: str) -> None:
        """Switch every block's trace estimator (e.g. exact for evaluation)."""
        for block in self.blocks:
            block.divergence = divergence

    def forward(
        self,
        z: torch.Tensor,
        context: torch.Tensor | None = None,
        *,
        reverse: bool = False,
        generator: torch.Generator | None = None,
    ) -> CNFOutput:
        """Apply the blocks (see :meth:`CNFBlock.forward`); the outputs' terms are summed."""
        blocks = list(self.blocks)[::-1] if reverse else list(self.blocks)
        delta = kinetic = frobenius = z.new_zeros(z.shape[:-1])
        for block in blocks:
            out = block(z, context, reverse=reverse, generator=generator, counter=self.counter)
            z = out.z
            delta = delta + out.delta_logp
            kinetic = kinetic + out.kinetic
            frobenius = frobenius + out.frobenius
        return CNFOutput(z, delta, kinetic, frobenius)
