"""The CNF vector field: :class:`ConcatSquashField`, an MLP of concat-squash layers.

Every layer computes ``(W x + b) · σ(G c + g) + S c`` with the conditioning ``c = [t,
context]`` (FFJORD's choice), and the field propagates Jacobian–vector products *forward*
alongside its output (:meth:`ConcatSquashField.forward_jvp`), so that the trace estimators
of :mod:`latentode.nn._trace` need no double back-propagation.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from latentode.exceptions import ParameterError
from latentode.nn._checks import check_choice

__all__ = ["ACTIVATIONS", "ConcatSquashField"]

ACTIVATIONS = ("tanh", "softplus")


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
        check_choice(activation, ACTIVATIONS, "activation", "ConcatSquashField")
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
            last = self.layers[-1]
            for p in (last.linear.weight, last.linear.bias, last.shift.weight):
                nn.init.zeros_(p)

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
        for i, layer in enumerate(self.layers):
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
        for i, layer in enumerate(self.layers):
            h, dh = layer(h, cond, dh)
            if i < len(self.layers) - 1:
                h, slope = self._act(h)
                dh = dh * slope.unsqueeze(-2)
        return h, dh
