"""ODE-RNN encoder run backwards in time (Rubanova et al., 2019)."""

from __future__ import annotations

import torch
from torch import nn

from latentode.batch import IrregularBatch
from latentode.nn._fixed_steps import DIRECT_METHODS, IntervalPlan
from latentode.nn._fused_odernn import fusable, fused_odernn
from latentode.nn._reverse import reverse_padded
from latentode.nn._scan import checkpoints, scan
from latentode.nn.solve import NFECounter, SolverConfig, solve_intervals
from latentode.nn.vector_field import MLPVectorField

__all__ = ["ODERNNEncoder"]

#: New encoders train through the fused loop where it applies (``benchmarks/fused.py``
#: sets this to compare the two).
FUSED = True


class ODERNNEncoder(nn.Module):
    """Hidden state that evolves by an ODE between observations and jumps at them.

    Runs from each series' last observation back to its first; between observations the
    state follows ``dh/dt = f(h)`` (solved per series over its own gap), at an observation
    a GRU cell reads ``[x·m, m]`` (values with unobserved entries zeroed, and the mask).

    Parameters
    ----------
    n_features : int
    hidden_dim : int
        Size of the hidden state (the encoder's output).
    field_hidden_dim, field_layers : int
        The hidden ODE's MLP.
    solver : SolverConfig
        Usually a cheap fixed-step method (``euler``): the GRU corrects the state at every
        observation anyway.
    """

    def __init__(
        self,
        n_features: int,
        hidden_dim: int = 32,
        *,
        field_hidden_dim: int = 32,
        field_layers: int = 1,
        solver: SolverConfig | None = None,
    ) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.field = MLPVectorField(hidden_dim, field_hidden_dim, field_layers)
        self.cell = nn.GRUCell(2 * n_features, hidden_dim)
        self.solver = solver or SolverConfig(method="euler")
        self.counter = NFECounter()
        #: Train through :func:`~latentode.nn._fused_odernn.fused_odernn` where it applies
        #: (Euler, a tanh MLP field, no checkpointing): the same function and gradients.
        self.fused = FUSED

    def forward(self, batch: IrregularBatch) -> torch.Tensor:
        """Encode a batch (``(B, K)`` times, ``(B, K, D)`` values and mask) → ``(B, hidden_dim)``.

        The returned state sits at each series' first observation time ``times[:, 0]``.
        """
        times, values, mask, lengths = batch.times, batch.values, batch.mask, batch.lengths
        valid, (t_rev, x_rev, m_rev) = reverse_padded(lengths, times, values, mask)
        inputs = torch.cat([x_rev * m_rev, m_rev], dim=-1)
        h = values.new_zeros(values.shape[0], self.hidden_dim)
        # The gap before step j runs from the previous real step's time: valid steps come
        # first, and padding repeats the first time, so that is t_rev[:, j - 1] everywhere.
        start = t_rev[:, :-1]
        gaps = torch.where(valid[:, 1:], t_rev[:, 1:] - start, torch.zeros_like(start))
        plan = None
        if self.solver.method in DIRECT_METHODS and not self.solver.adjoint:
            plan = IntervalPlan(self.solver, start, gaps, h.dtype)
        n_steps = times.shape[1]
        if (
            self.fused
            and plan is not None
            and plan.method == "euler"
            and torch.is_grad_enabled()
            and not checkpoints(h.shape[0], n_steps)
            and fusable(self.field, self.cell)
        ):
            sizes, before = plan.euler_sizes()
            self.counter.tick(len(sizes))
            self.counter.forward += len(sizes)
            return fused_odernn(self.field, self.cell, h, inputs, valid, sizes, before)

        def step(j: int, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
            (h,) = state
            if j > 0:
                if plan is not None:
                    h = plan.advance(self.field, h, j - 1, self.counter)
                else:
                    h = solve_intervals(
                        self.field, h, start[:, j - 1], gaps[:, j - 1], self.solver, self.counter
                    )
            h = torch.where(valid[:, j].unsqueeze(-1), self.cell(inputs[:, j], h), h)
            return (h,)

        # Long batches keep their graph in checkpointed segments (see latentode.nn._scan).
        (h,) = scan(step, (h,), n_steps)
        return h
