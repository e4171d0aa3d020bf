"""Continuous normalising flows (FFJORD; Grathwohl et al., ICLR 2019).

A CNF block moves a point by an ODE ``dz/dt = f(t, z; c)`` on ``t ∈ [0, T]`` and tracks its
log-density with the instantaneous change of variables::

    d log p(z(t)) / dt = -tr(∂f/∂z)

so the flow map ``φ: z(0) ↦ z(T)`` has ``log p_T(φ(z)) = log p_0(z) - ∫_0^T tr(∂f/∂z) dt``.
*Forward* (``reverse=False``) runs ``0 → T`` (base → data, i.e. sampling); *reverse* runs
``T → 0`` (data → base, i.e. density evaluation). Every call returns
``delta_logp = log p_out(output) - log p_in(input)`` (which equals ``-log|det ∂out/∂in|``).

Trace of the Jacobian
---------------------
The field is an MLP of concat-squash layers whose Jacobian–vector products are propagated
*forward* alongside its output (no double back-propagation, so the training backward pass is
an ordinary one):

- ``"exact"``: ``J`` is carried column by column (``D`` tangents), giving the exact trace —
  cheapest for small ``D``, noise-free;
- ``"hutchinson"``: one tangent ``ε`` (Rademacher or Gaussian, drawn once per solve) gives
  the unbiased estimate ``εᵀ J ε`` in ``O(D)``.

Regularisation
--------------
With ``regularize=True`` two more integrals ride along (Finlay et al., ICML 2020, "How to
train your neural ODE"): kinetic energy ``∫ ||f||² dt`` and Jacobian Frobenius norm
``∫ ||J||_F² dt`` (exactly, or its Hutchinson estimate ``||J ε||²``). Penalising them keeps
trajectories straight and the solver's step count (NFE) low during training.

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
import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple, cast

import torch
from torch import nn

from latentode.exceptions import ParameterError
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

ACTIVATIONS = ("tanh", "softplus")
DIVERGENCES = ("exact", "hutchinson")
NOISES = ("rademacher", "gaussian")


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


def _check_choice(value: str, allowed: Sequence[str], name: str, owner: str) -> None:
    if value not in allowed:
        raise ParameterError(
            f"The '{name}' of {owner} must be a str among {sorted(allowed)}. Got {value!r} instead."
        )


class _ConcatSquash(nn.Module):
    """``(W x + b) · σ(G c + g) + S c`` with conditioning ``c = [t, context]``."""

    def __init__(self, in_dim: int, out_dim: int, cond_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        self.gate = nn.Linear(cond_dim, out_dim)
        self.shift = nn.Linear(cond_dim, out_dim, bias=False)

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, tangent: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Output ``(..., out)`` and its tangent ``(..., K, out)`` for input tangent
        ``(..., K, in)`` (``None`` means the identity: ``K = in``)."""
        gate = torch.sigmoid(self.gate(cond))
        out = self.linear(x) * gate + self.shift(cond)
        if tangent is None:
            d_out = self.linear.weight.t() * gate.unsqueeze(-2)
        else:
            d_out = (tangent @ self.linear.weight.t()) * gate.unsqueeze(-2)
        return out, d_out


class ConcatSquashField(nn.Module):
    """CNF vector field ``f(t, z; c)``: an MLP of concat-squash layers (FFJORD's choice).

    Every layer is modulated by time and an optional context vector, and the field returns
    Jacobian–vector products together with its value (see :meth:`forward_jvp`).

    Parameters
    ----------
    dim : int
        State dimension ``D``.
    hidden_dims : sequence of int
        Widths of the hidden layers.
    context_dim : int, default=0
        Size of the conditioning vector (0: unconditional).
    activation : {"tanh", "softplus"}, default="tanh"
        Smooth activations (their derivatives are used in the tangent pass).
    zero_init : bool, default=True
        Start the last layer at zero, so that the untrained flow is the identity.
    """

    def __init__(
        self,
        dim: int,
        hidden_dims: Sequence[int] = (64, 64, 64),
        *,
        context_dim: int = 0,
        activation: str = "tanh",
        zero_init: bool = True,
    ) -> None:
        super().__init__()
        _check_choice(activation, ACTIVATIONS, "activation", "ConcatSquashField")
        if dim < 1 or context_dim < 0 or any(h < 1 for h in hidden_dims):
            raise ParameterError(
                "ConcatSquashField needs dim >= 1, context_dim >= 0 and positive hidden "
                f"widths. Got dim={dim}, context_dim={context_dim}, "
                f"hidden_dims={tuple(hidden_dims)} instead."
            )
        self.dim = dim
        self.context_dim = context_dim
        self.activation = activation
        widths = [dim, *hidden_dims, dim]
        self.layers = nn.ModuleList(
            _ConcatSquash(a, b, 1 + context_dim) for a, b in itertools.pairwise(widths)
        )
        if zero_init:
            last = cast(_ConcatSquash, self.layers[-1])
            for p in (last.linear.weight, last.linear.bias, last.shift.weight):
                nn.init.zeros_(p)

    def _layers(self) -> Sequence[_ConcatSquash]:
        # nn.ModuleList is untyped (its items are nn.Module); these are all _ConcatSquash.
        return cast("Sequence[_ConcatSquash]", self.layers)

    def _act(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Activation and its derivative."""
        if self.activation == "tanh":
            y = torch.tanh(x)
            return y, 1.0 - y * y
        return nn.functional.softplus(x), torch.sigmoid(x)

    def _cond(self, t: torch.Tensor, z: torch.Tensor, context: torch.Tensor | None):
        tt = t.to(z.dtype)
        tt = tt.expand(z.shape[:-1]).unsqueeze(-1)
        return tt if context is None else torch.cat([tt, context], dim=-1)

    def forward(
        self, t: torch.Tensor, z: torch.Tensor, context: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``f(t, z; c)`` of shape ``(..., n, dim)``.

        Parameters
        ----------
        t : Tensor of shape (n,) or ()
        z : Tensor of shape (..., n, dim)
        context : Tensor of shape (..., n, context_dim), optional
        """
        cond = self._cond(t, z, context)
        h = z
        for i, layer in enumerate(self._layers()):
            gate = torch.sigmoid(layer.gate(cond))
            h = layer.linear(h) * gate + layer.shift(cond)
            if i < len(self.layers) - 1:
                h = self._act(h)[0]
        return h

    def forward_jvp(
        self,
        t: torch.Tensor,
        z: torch.Tensor,
        context: torch.Tensor | None,
        tangent: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The field and Jacobian–vector products ``(J v_k)ᵀ``.

        Parameters
        ----------
        t, z, context
            As in :meth:`forward`.
        tangent : Tensor of shape (..., n, K, dim) or None
            ``K`` directions ``v_k`` (rows); None means the ``dim`` unit vectors (the full
            Jacobian).

        Returns
        -------
        f : Tensor of shape (..., n, dim)
        jvp : Tensor of shape (..., n, K, dim)
            Row ``k`` is ``J v_k`` (for ``tangent=None``: row ``k`` is column ``k`` of ``J``).
        """
        cond = self._cond(t, z, context)
        h, dh = z, tangent
        for i, layer in enumerate(self._layers()):
            h, dh = layer(h, cond, dh)
            if i < len(self.layers) - 1:
                h, slope = self._act(h)
                dh = dh * slope.unsqueeze(-2)
        assert dh is not None  # the first layer turns None (the identity) into a tensor
        return h, dh


class _AugmentedField(nn.Module):
    """``d/dt [z, log p, (kinetic, frobenius), context] = [f, -tr J, (|f|², |J|²), 0]``."""

    def __init__(self, field: ConcatSquashField, divergence: str, regularize: bool) -> None:
        super().__init__()
        self.field = field
        self.divergence = divergence
        self.regularize = regularize
        self.noise: torch.Tensor | None = None  # (..., n, dim), fixed for one solve

    def forward(self, t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        dim, c_dim = self.field.dim, self.field.context_dim
        z = state[..., :dim]
        context = state[..., state.shape[-1] - c_dim :] if c_dim else None
        if self.divergence == "exact":
            dz, jvp = self.field.forward_jvp(t, z, context, None)
            div = torch.diagonal(jvp, dim1=-2, dim2=-1).sum(-1)
        else:
            noise = self.noise
            assert noise is not None, "set by CNFBlock before a Hutchinson solve"
            dz, jvp = self.field.forward_jvp(t, z, context, noise.unsqueeze(-2))
            div = (jvp.squeeze(-2) * noise).sum(-1)
        parts = [dz, -div.unsqueeze(-1)]
        if self.regularize:
            parts.append(dz.pow(2).sum(-1, keepdim=True))
            parts.append(jvp.pow(2).sum(dim=(-2, -1)).unsqueeze(-1))
        if context is not None:
            parts.append(torch.zeros_like(context))
        return torch.cat(parts, dim=-1)


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
        _check_choice(divergence, DIVERGENCES, "divergence", "CNFBlock")
        _check_choice(noise, NOISES, "noise", "CNFBlock")
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
        self.dynamics = _AugmentedField(field, divergence, regularize)

    @property
    def divergence(self) -> str:
        return self.dynamics.divergence

    @divergence.setter
    def divergence(self, value: str) -> None:
        _check_choice(value, DIVERGENCES, "divergence", "CNFBlock")
        self.dynamics.divergence = value

    def _probe(self, z: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if self.noise == "gaussian":
            return torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)
        bits = torch.randint(0, 2, z.shape, generator=generator, device=z.device)
        return bits.to(z.dtype) * 2 - 1

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
            self.dynamics.noise = self._probe(z, generator)
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
    ) -> CNF:
        """``n_blocks`` blocks, each with its own :class:`ConcatSquashField`."""
        return cls(
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

    def set_divergence(self, divergence: str) -> None:
        """Switch every block's trace estimator (e.g. exact for evaluation)."""
        for block in cast("Sequence[CNFBlock]", self.blocks):
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
