"""Euler steps of a latent field as one autograd node, its backward pass written out.

The decoder solves ``dz/dt = f(z)`` (``f`` a ``tanh`` MLP) with Euler steps on each
series' own grid, and training back-propagates through every step. Under autograd each
step records its handful of tiny operations; here the whole run of steps is one
:class:`torch.autograd.Function` (as :mod:`latentode.nn._fused_odernn` is for the encoder):
the forward writes every state and hidden activation into preallocated buffers; the
backward runs the chain through the states step by step and computes each weight's
gradient as one matrix product over all steps at the end. Same states and gradients as
the step-by-step loop, up to float rounding (``tests/nn/test_fused_euler.py``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from latentode.nn.vector_field import MLPVectorField

__all__ = ["GRAD_CHUNK", "fusable_field", "fused_euler"]

#: Steps whose upstream gradients the backward pass holds at once (see its comment).
GRAD_CHUNK = 64


def fusable_field(field: nn.Module) -> bool:
    """Whether the fused loops compute ``field``: an autonomous :class:`MLPVectorField`
    (no time input, no controls) of ``tanh`` layers with biases."""
    if type(field) is not MLPVectorField or field.time_dependent or field.n_controls:
        return False
    layers = list(field.net)
    return all(isinstance(m, nn.Linear) and m.bias is not None for m in layers[0::2]) and all(
        isinstance(m, nn.Tanh) for m in layers[1::2]
    )


def fused_euler(field: MLPVectorField, z0: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """The states ``(N + 1, ..., B, L)`` of ``N`` Euler steps ``z ← z + size_j · f(z)``
    from ``z0`` ``(..., B, L)``; ``size`` ``(B, N)`` (per series; 0: the state stays)."""
    linears = [m for m in field.net if isinstance(m, nn.Linear)]
    params: list[torch.Tensor] = []
    for m in linears:
        params += [m.weight, m.bias]
    sizes = size.to(z0.dtype).t().unsqueeze(-1)  # (N, B, 1): broadcasts over z's rows
    out: torch.Tensor = _FusedEuler.apply(z0, sizes, len(linears), *params)
    return out


class _FusedEuler(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, z0: torch.Tensor, sizes: torch.Tensor, n_linear: int, *params: torch.Tensor
    ) -> torch.Tensor:
        weights, biases = params[0::2], params[1::2]
        n_steps = sizes.shape[0]
        dim = z0.shape[-1]
        states = z0.new_empty(n_steps + 1, *z0.shape)
        states[0].copy_(z0)
        flat = states.view(n_steps + 1, -1, dim)  # rows of every leading dimension
        acts = [z0.new_empty(n_steps, flat.shape[1], w.shape[0]) for w in weights[:-1]]
        state, rows, size = states.unbind(0), flat.unbind(0), sizes.unbind(0)
        act = [a.unbind(0) for a in acts]
        for j in range(n_steps):
            x = rows[j]
            for k in range(n_linear - 1):
                x = torch.addmm(biases[k], x, weights[k].t(), out=act[k][j]).tanh_()
            f = torch.addmm(biases[-1], x, weights[-1].t())
            torch.addcmul(state[j], size[j], f.view_as(state[j]), out=state[j + 1])
        ctx.save_for_backward(sizes, *params)
        ctx.n_linear, ctx.z_shape = n_linear, z0.shape
        ctx.buffers = (flat, acts)
        return states

    @staticmethod
    @once_differentiable  # a second derivative through the loop raises, never silently 0
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        sizes, *params = ctx.saved_tensors
        n_linear = ctx.n_linear
        flat, acts = ctx.buffers
        weights = params[0::2]
        n_steps, n_rows, dim = flat.shape[0] - 1, flat.shape[1], flat.shape[2]
        grad = grad.reshape(n_steps + 1, n_rows, dim)
        shape = sizes.shape[1:]  # (B, 1)
        lead = n_rows // shape[0]  # rows per series' step size (the leading dimensions)
        one = grad.new_ones(())
        # The weights' gradients are summed over chunks of GRAD_CHUNK steps: one product
        # per chunk, and the upstream gradients of one chunk held at a time (all steps'
        # at once made memory="low" grow by 15 % instead of 8 % per 10x length).
        chunk = min(n_steps, GRAD_CHUNK)
        d_layer = [grad.new_empty(chunk, n_rows, w.shape[0]) for w in weights]
        d_layer_j = [d.unbind(0) for d in d_layer]
        act = [a.unbind(0) for a in acts]
        # each row's step size, as the flat rows see it: (N, rows, 1)
        size = sizes.unsqueeze(1).expand(n_steps, lead, *shape).reshape(n_steps, n_rows, 1)
        size_j = size.unbind(0)
        grads = [torch.zeros_like(p) for p in params]
        delta = grad[n_steps]
        stop = n_steps
        while stop > 0:
            start = max(0, stop - chunk)
            for j in range(stop - 1, start - 1, -1):
                c = j - start
                back = torch.mul(size_j[j], delta, out=d_layer_j[-1][c])  # dL/df
                for k in range(n_linear - 1, 0, -1):
                    a = act[k - 1][j]
                    back = torch.mul(
                        back @ weights[k],
                        torch.addcmul(one, a, a, value=-1.0),
                        out=d_layer_j[k - 1][c],
                    )
                delta = torch.addmm(delta + grad[j], back, weights[0])
            for k in range(n_linear):
                into = flat[start:stop] if k == 0 else acts[k - 1][start:stop]
                d = d_layer[k][: stop - start].reshape(-1, weights[k].shape[0])
                grads[2 * k].addmm_(d.t(), into.reshape(-1, weights[k].shape[1]))
                grads[2 * k + 1].add_(d.sum(0))
            stop = start
        return (delta.view(ctx.z_shape), None, None, *grads)
