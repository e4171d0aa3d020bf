"""GRU-D encoder (Che et al., 2018): a GRU whose inputs and state decay over the gaps."""

from __future__ import annotations

import torch
from torch import nn

from latentode._deadline import check_deadline
from latentode.batch import IrregularBatch
from latentode.nn._reverse import reverse_padded
from latentode.nn._scan import scan

__all__ = ["GRUDEncoder"]


class GRUDEncoder(nn.Module):
    """A GRU run backwards in time whose missing inputs and hidden state decay over gaps.

    Between two observations the hidden state shrinks by ``γ_h = exp(-relu(W_h δ + b_h))``,
    and an unobserved feature is replaced by its last value seen (in the direction of
    reading) pulled towards 0 — the feature mean, values being standardised — by
    ``γ_x = exp(-relu(w_x δ_d + b_x))``, where ``δ_d`` is the time since feature ``d`` was
    last seen. GRU-D was a strong baseline for irregular clinical series; here it is one
    more encoder for the Latent ODE (``encoder="grud"``).

    Parameters
    ----------
    n_features : int
    hidden_dim : int, default=32
    """

    def __init__(self, n_features: int, hidden_dim: int = 32) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.input_decay = nn.Parameter(torch.zeros(n_features))
        self.input_bias = nn.Parameter(torch.zeros(n_features))
        self.hidden_decay = nn.Linear(n_features, hidden_dim)
        self.cell = nn.GRUCell(3 * n_features, hidden_dim)

    @property
    def counter(self) -> None:
        """No ODE solve: no evaluations to count."""
        return None

    def forward(self, batch: IrregularBatch) -> torch.Tensor:
        """Encode a batch (``(B, K)`` times, ``(B, K, D)`` values, mask) → ``(B, hidden_dim)``."""
        valid, (t_rev, x_rev, m_rev) = reverse_padded(
            batch.lengths, batch.times, batch.values, batch.mask
        )
        n_series, n_steps, n_features = x_rev.shape
        h = x_rev.new_zeros(n_series, self.hidden_dim)
        last_x = x_rev.new_zeros(n_series, n_features)
        since = x_rev.new_zeros(n_series, n_features)  # time since each feature was seen

        def step(j: int, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
            h, last_x, since = state
            check_deadline()
            ok = valid[:, j]
            gap = (t_rev[:, j] - t_rev[:, j - 1]).abs() if j else torch.zeros_like(t_rev[:, 0])
            gap = torch.where(ok, gap, torch.zeros_like(gap)).to(x_rev.dtype)
            since = since + gap.unsqueeze(-1)
            m = m_rev[:, j]
            gamma_x = torch.exp(-torch.relu(self.input_decay * since + self.input_bias))
            x = m * x_rev[:, j] + (1 - m) * gamma_x * last_x
            gamma_h = torch.exp(-torch.relu(self.hidden_decay(since)))
            h_new = self.cell(torch.cat([x, m, since], dim=-1), gamma_h * h)
            h = torch.where(ok.unsqueeze(-1), h_new, h)
            seen = (m > 0) & ok.unsqueeze(-1)
            last_x = torch.where(seen, x_rev[:, j], last_x)
            since = torch.where(seen, torch.zeros_like(since), since)
            return h, last_x, since

        # Long batches keep their graph in checkpointed segments (see latentode.nn._scan).
        h, _, _ = scan(step, (h, last_x, since), n_steps)
        return h
