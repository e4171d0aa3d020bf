"""The ODE-RNN encoder's loop as one autograd node, its backward pass written out.

The encoder walks a batch one observation at a time: Euler steps of the hidden field
``h ← h + Δ · f(h)`` (``f`` a tanh MLP) between observations, a GRU cell at each. Under
autograd each step records a dozen tiny operations (a batch of 100 series × 32 hidden
units), and the time goes to recording and replaying them, not to arithmetic. Here the
loop is one :class:`torch.autograd.Function`:

* forward: the GRU's input projection of every step in one matrix product up front; then
  per Euler step three products and a ``tanh``, per observation one product and the gate
  arithmetic, keeping each step's activations;
* backward: the chain through ``h`` step by step (per step the products with the weights'
  transposes and the activations' derivatives), while the weights' gradients wait: every
  step's upstream gradients and activations are stacked and each weight's gradient is one
  large matrix product at the end.

It computes the same function as the step-by-step loop (:class:`ODERNNEncoder` checks
that it applies: Euler on a planned grid, an autonomous ``tanh`` MLP field, an
``nn.GRUCell``) and the same gradients up to float rounding
(``tests/nn/test_fused_odernn.py``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from latentode.nn._fused_euler import fusable_field
from latentode.nn.vector_field import MLPVectorField

__all__ = ["fusable", "fused_odernn"]


def fusable(field: nn.Module, cell: nn.Module) -> bool:
    """Whether :func:`fused_odernn` computes this field and cell: a field the fused Euler
    steps take (:func:`~latentode.nn._fused_euler.fusable_field`) and an ``nn.GRUCell``
    with biases."""
    return fusable_field(field) and type(cell) is nn.GRUCell and bool(cell.bias)


def fused_odernn(
    field: MLPVectorField,
    cell: nn.GRUCell,
    h0: torch.Tensor,
    inputs: torch.Tensor,
    valid: torch.Tensor,
    sizes: torch.Tensor,
    steps_before: list[int],
) -> torch.Tensor:
    """The encoder's final hidden state ``(B, H)``.

    ``inputs`` ``(B, K, I)`` is the GRU's input at each step and ``valid`` ``(B, K)``
    whether the step is an observation (else the state passes unchanged); ``sizes``
    ``(E, B, 1)`` are the Euler steps' sizes in order (0: a frozen row) and
    ``steps_before[j]`` how many of them come before observation step ``j``.
    """
    linears = [m for m in field.net if isinstance(m, nn.Linear)]
    params: list[torch.Tensor] = []
    for m in linears:
        params += [m.weight, m.bias]
    params += [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    out: torch.Tensor = _FusedODERNN.apply(
        h0, inputs, valid, sizes, tuple(steps_before), len(linears), *params
    )
    return out


class _FusedODERNN(torch.autograd.Function):
    """Forward and backward of the loop; every step writes into preallocated buffers
    (``out=``), so nothing is stacked or copied per step."""

    @staticmethod
    def forward(
        ctx: Any,
        h0: torch.Tensor,
        inputs: torch.Tensor,
        valid: torch.Tensor,
        sizes: torch.Tensor,
        steps_before: tuple[int, ...],
        n_linear: int,
        *params: torch.Tensor,
    ) -> torch.Tensor:
        weights, biases = params[0 : 2 * n_linear : 2], params[1 : 2 * n_linear : 2]
        w_ih, w_hh, b_ih, b_hh = params[2 * n_linear :]
        n_rows, n_steps, n_in = inputs.shape
        hidden = h0.shape[-1]
        n_euler = sizes.shape[0]
        # the input projections of all steps at once, step-major: (K, B, 3H)
        gi = torch.addmm(b_ih, inputs.transpose(0, 1).reshape(-1, n_in), w_ih.t())
        gi = gi.view(n_steps, n_rows, 3 * hidden)
        gi_rz, gi_n = gi[..., : 2 * hidden].unbind(0), gi[..., 2 * hidden :].unbind(0)
        # every state the loop passes through, in order (each step writes the next one)
        states = h0.new_empty(n_euler + n_steps + 1, n_rows, hidden)
        states[0].copy_(h0)
        acts = [h0.new_empty(n_euler, n_rows, w.shape[0]) for w in weights[:-1]]
        rz, n, gh = (h0.new_empty(n_steps, n_rows, k * hidden) for k in (2, 1, 3))
        state, rz_j, n_j, gh_j = states.unbind(0), rz.unbind(0), n.unbind(0), gh.unbind(0)
        act = [a.unbind(0) for a in acts]
        size = sizes.unbind(0)
        all_valid = valid.all(dim=0).tolist()
        keep = valid.unsqueeze(-1)
        euler_at: list[int] = []  # index in ``states`` of the state entering each step
        gru_at: list[int] = []
        i = e = 0
        for j in range(n_steps):
            while e < steps_before[j]:
                x = state[i]
                for k in range(n_linear - 1):
                    x = torch.addmm(biases[k], x, weights[k].t(), out=act[k][e]).tanh_()
                f = torch.addmm(biases[-1], x, weights[-1].t())
                torch.addcmul(state[i], size[e], f, out=state[i + 1])
                euler_at.append(i)
                i += 1
                e += 1
            h = state[i]
            g = torch.addmm(b_hh, h, w_hh.t(), out=gh_j[j])
            gates = torch.add(gi_rz[j], g[:, : 2 * hidden], out=rz_j[j]).sigmoid_()
            r, z = gates[:, :hidden], gates[:, hidden:]
            cand = torch.addcmul(gi_n[j], r, g[:, 2 * hidden :], out=n_j[j]).tanh_()
            if all_valid[j]:
                torch.lerp(cand, h, z, out=state[i + 1])  # (1 - z) n + z h
            else:  # rows without step j keep their state
                torch.where(keep[:, j], torch.lerp(cand, h, z), h, out=state[i + 1])
            gru_at.append(i)
            i += 1
        ctx.save_for_backward(inputs, valid, sizes, *params)
        ctx.n_linear, ctx.steps_before, ctx.all_valid = n_linear, steps_before, all_valid
        ctx.buffers = (states, acts, rz, n, gh, euler_at, gru_at)
        return state[i].clone()

    @staticmethod
    @once_differentiable  # a second derivative through the loop raises, never silently 0
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        inputs, valid, sizes, *params = ctx.saved_tensors
        n_linear, steps_before, all_valid = ctx.n_linear, ctx.steps_before, ctx.all_valid
        states, acts, rz, n, gh, euler_at, gru_at = ctx.buffers
        weights, biases = params[0 : 2 * n_linear : 2], params[1 : 2 * n_linear : 2]
        w_ih, w_hh = params[2 * n_linear], params[2 * n_linear + 1]
        n_rows, n_steps, n_in = inputs.shape
        hidden = w_hh.shape[1]
        n_euler = sizes.shape[0]
        one = grad.new_ones(())
        keep = valid.unsqueeze(-1).to(grad.dtype)
        # upstream gradients, written step by step; the weights' gradients come at the end
        d_gh = grad.new_empty(n_steps, n_rows, 3 * hidden)  # of W_hh h + b_hh
        d_gin = grad.new_empty(n_steps, n_rows, hidden)  # of the input's n-gate projection
        d_layer = [grad.new_empty(n_euler, n_rows, w.shape[0]) for w in weights]
        state, rz_j, n_j, gh_j = states.unbind(0), rz.unbind(0), n.unbind(0), gh.unbind(0)
        d_gh_j, d_gin_j = d_gh.unbind(0), d_gin.unbind(0)
        d_layer_e = [d.unbind(0) for d in d_layer]
        act = [a.unbind(0) for a in acts]
        size = sizes.unbind(0)
        delta = grad
        e = n_euler
        for j in range(n_steps - 1, -1, -1):
            h, gates, cand = state[gru_at[j]], rz_j[j], n_j[j]
            r, z = gates[:, :hidden], gates[:, hidden:]
            d_new = delta if all_valid[j] else delta * keep[:, j]
            dn = torch.addcmul(d_new, d_new, z, value=-1.0)  # through (1 - z) n
            out = d_gh_j[j]
            torch.mul(d_new, h - cand, out=out[:, hidden : 2 * hidden])  # dz
            dn_pre = torch.mul(dn, torch.addcmul(one, cand, cand, value=-1.0), out=d_gin_j[j])
            torch.mul(dn_pre, gh_j[j][:, 2 * hidden :], out=out[:, :hidden])  # dr
            out[:, : 2 * hidden].mul_(torch.addcmul(gates, gates, gates, value=-1.0))
            torch.mul(dn_pre, r, out=out[:, 2 * hidden :])
            # h enters through z h (d_new z), the pass-through of skipped rows and W_hh h
            delta = torch.addmm(delta - dn, out, w_hh)
            first = steps_before[j - 1] if j > 0 else 0
            while e > first:
                e -= 1
                back = torch.mul(size[e], delta, out=d_layer_e[-1][e])  # dL/df
                for k in range(n_linear - 1, 0, -1):
                    a = act[k - 1][e]
                    back = torch.mul(
                        back @ weights[k],
                        torch.addcmul(one, a, a, value=-1.0),
                        out=d_layer_e[k - 1][e],
                    )
                delta = torch.addmm(delta, back, weights[0])
        grads: list[torch.Tensor] = []
        for k in range(n_linear):
            if n_euler:
                into = states[euler_at] if k == 0 else acts[k - 1]
                d = d_layer[k].reshape(-1, weights[k].shape[0])
                grads += [d.t() @ into.reshape(-1, weights[k].shape[1]), d.sum(0)]
            else:
                grads += [torch.zeros_like(weights[k]), torch.zeros_like(biases[k])]
        d_gi = torch.cat([d_gh[..., : 2 * hidden], d_gin], dim=-1).reshape(-1, 3 * hidden)
        d_gh_flat = d_gh.reshape(-1, 3 * hidden)
        grads.append(d_gi.t() @ inputs.transpose(0, 1).reshape(-1, n_in))
        grads.append(d_gh_flat.t() @ states[gru_at].reshape(-1, hidden))
        grads += [d_gi.sum(0), d_gh_flat.sum(0)]
        d_inputs = None
        if ctx.needs_input_grad[1]:
            d_inputs = (d_gi @ w_ih).view(n_steps, n_rows, n_in).transpose(0, 1)
        d_h0 = delta if ctx.needs_input_grad[0] else None
        return (d_h0, d_inputs, None, None, None, None, *grads)
