"""GRU-Δt encoder: a GRU over ``[x·m, m, Δt]`` run backwards in time."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from latentode.batch import IrregularBatch
from latentode.nn._reverse import reverse_padded

__all__ = ["GRUDeltaTEncoder"]


class GRUDeltaTEncoder(nn.Module):
    """A GRU reading values, mask and the gap to the previous (later) observation.

    Cheaper than :class:`~latentode.nn.odernn.ODERNNEncoder` (one fused GRU call, no ODE
    solve); the time gaps enter only as an input feature.
    """

    def __init__(self, n_features: int, hidden_dim: int = 32) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.gru = nn.GRU(2 * n_features + 1, hidden_dim, batch_first=True)
        self.counter = None

    def forward(self, batch: IrregularBatch) -> torch.Tensor:
        """Encode a batch (``(B, K)`` times, ``(B, K, D)`` values, mask) → ``(B, hidden_dim)``."""
        times, values, mask, lengths = batch.times, batch.values, batch.mask, batch.lengths
        _, (t_rev, x_rev, m_rev) = reverse_padded(lengths, times, values, mask)
        gaps = (t_rev[:, :-1] - t_rev[:, 1:]).abs()
        gaps = torch.cat([torch.zeros_like(t_rev[:, :1]), gaps], dim=1).to(values.dtype)
        inputs = torch.cat([x_rev * m_rev, m_rev, gaps.unsqueeze(-1)], dim=-1)
        packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)
        return h[-1]
