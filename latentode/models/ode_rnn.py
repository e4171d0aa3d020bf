"""ODE-RNN baseline (Rubanova et al., 2019): a deterministic forecaster run forwards in time."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from latentode.batch import IrregularBatch
from latentode.models.latent_ode import BoundTerms
from latentode.nn.observation import GaussianObservation
from latentode.nn.solve import NFECounter, SolverConfig, solve_intervals
from latentode.nn.vector_field import MLPVectorField

__all__ = ["ODERNN"]


class ODERNN(nn.Module):
    """Hidden state that follows an ODE between observations and jumps (GRU) at them.

    A query at time ``q`` is answered from the state after the last observation at or
    before ``q`` (strictly before, when training on the observations themselves), carried to
    ``q`` by the ODE. No latent posterior: ``kl``, ``log_q`` and ``log_pz`` are 0, and
    ``bound_terms(...).iwae()`` is the exact log-likelihood of the targets.

    It offers the same methods as :class:`~latentode.models.latent_ode.LatentODE`, so
    ``LatentODEForecaster(model="ode_rnn")`` can use it as a baseline.
    """

    def __init__(
        self,
        n_features: int,
        hidden_dim: int,
        observation: GaussianObservation,
        *,
        field_hidden_dim: int = 64,
        field_layers: int = 1,
        solver: SolverConfig | None = None,
    ) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.field = MLPVectorField(hidden_dim, field_hidden_dim, field_layers)
        self.cell = nn.GRUCell(2 * n_features, hidden_dim)
        self.observation = observation
        self.solver = solver or SolverConfig()
        self.counter = NFECounter()

    def states(self, batch: IrregularBatch) -> torch.Tensor:
        """Hidden states ``(B, K, H)`` just after each observation (padding repeats the last)."""
        times, values, mask, lengths = batch.times, batch.values, batch.mask, batch.lengths
        n_series, n_steps = times.shape
        valid = torch.arange(n_steps, device=times.device).unsqueeze(0) < lengths.unsqueeze(1)
        inputs = torch.cat([values * mask, mask], dim=-1)
        h = values.new_zeros(n_series, self.hidden_dim)
        out = []
        for j in range(n_steps):
            if j > 0:
                delta = torch.where(valid[:, j], times[:, j] - times[:, j - 1], 0.0)
                h = solve_intervals(
                    self.field, h, times[:, j - 1], delta, self.solver, self.counter
                )
            h = torch.where(valid[:, j].unsqueeze(-1), self.cell(inputs[:, j], h), h)
            out.append(h)
        return torch.stack(out, dim=1)

    def _hidden_at(
        self,
        context: IrregularBatch,
        queries: torch.Tensor,
        strict: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden state at each query ``(B, Q, H)`` and whether an observation preceded it."""
        times = context.times
        states = self.states(context)
        index = torch.searchsorted(times.contiguous(), queries.contiguous(), right=not strict) - 1
        seen = index >= 0
        idx = index.clamp(min=0)
        start = torch.where(seen, torch.gather(times, 1, idx), times[:, :1].expand_as(queries))
        h = torch.gather(states, 1, idx.unsqueeze(-1).expand(-1, -1, self.hidden_dim))
        h = torch.where(seen.unsqueeze(-1), h, torch.zeros_like(h))
        n_series, n_queries = queries.shape
        flat = solve_intervals(
            self.field,
            h.reshape(-1, self.hidden_dim),
            start.reshape(-1),
            (queries - start).reshape(-1),
            self.solver,
            self.counter,
        )
        return flat.reshape(n_series, n_queries, self.hidden_dim), seen

    def bound_terms(
        self,
        context: IrregularBatch,
        target: IrregularBatch,
        n_samples: int = 1,
        *,
        generator: torch.Generator | None = None,
        eps: torch.Tensor | None = None,
        reduce: Callable[[list[float]], list[float]] | None = None,  # no batch statistics
    ) -> BoundTerms:
        """Log-likelihood of ``target`` values, each predicted from strictly earlier context."""
        t_times, t_values, t_mask = target.times, target.values, target.mask
        hidden, seen = self._hidden_at(context, t_times, strict=True)
        mean = self.observation(hidden).unsqueeze(0)
        t_mask = t_mask * seen.unsqueeze(-1)  # nothing precedes the first observation
        log_px = self.observation.log_prob(mean, t_values, t_mask)
        zeros = torch.zeros_like(log_px)
        return BoundTerms(
            log_px=log_px,
            kl=zeros,
            log_pz=zeros,
            log_q=zeros,
            sq_err=((mean[0] - t_values).pow(2) * t_mask).sum(dim=(-1, -2)),
            n_obs=t_mask.sum(dim=(-1, -2)),
        )

    @torch.no_grad()
    def sample_means(
        self,
        context: IrregularBatch,
        times: torch.Tensor,
        n_samples: int,
        *,
        eps: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Deterministic means ``(S, B, Q, D)`` (repeated ``S`` times)."""
        hidden, _ = self._hidden_at(context, times, strict=False)
        mean = self.observation(hidden)
        return mean.unsqueeze(0).expand(n_samples, *mean.shape)

    @torch.no_grad()
    def sample_predictive(
        self,
        context: IrregularBatch,
        times: torch.Tensor,
        n_samples: int,
        *,
        eps: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Deterministic means ``(S, B, Q, D)`` and the per-feature noise scale."""
        return self.sample_means(context, times, n_samples), self.observation.std

    @torch.no_grad()
    def latent_mean(self, context: IrregularBatch) -> torch.Tensor:
        """Hidden state after each series' last observation ``(B, H)``."""
        states = self.states(context)
        return states[torch.arange(context.n_series), context.lengths - 1]
