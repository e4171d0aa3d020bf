"""GRU-D encoder: padding- and batch-invariant summaries; inputs decay over gaps."""

from __future__ import annotations

import numpy as np
import torch

from latentode import LatentODEForecaster
from latentode.batch import IrregularBatch
from latentode.datasets import make_periodic
from latentode.nn.grud_encoder import GRUDEncoder


def _batch(times: list[list[float]], seed: int = 0) -> IrregularBatch:
    gen = torch.Generator().manual_seed(seed)
    k = max(len(t) for t in times)
    t = torch.tensor([row + [row[-1]] * (k - len(row)) for row in times], dtype=torch.float64)
    lengths = torch.tensor([len(row) for row in times])
    valid = (torch.arange(k).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(-1)
    values = torch.randn(len(times), k, 2, generator=gen) * valid
    mask = (torch.rand(len(times), k, 2, generator=gen) > 0.3).float() * valid
    return IrregularBatch(t, values, mask, lengths)


def test_summary_of_a_series_does_not_depend_on_padding_or_batch_mates():
    torch.manual_seed(0)
    enc = GRUDEncoder(2, hidden_dim=5)
    batch = _batch([[0.0, 0.4, 1.5], [0.0, 0.1, 0.2, 0.9, 2.0, 3.0]])
    alone = batch.select(torch.tensor([0]))
    torch.testing.assert_close(enc(batch)[:1], enc(alone))
    assert enc(batch).shape == (2, 5)


def test_an_unseen_input_decays_towards_the_mean_over_a_long_gap():
    enc = GRUDEncoder(1, hidden_dim=3)
    with torch.no_grad():
        enc.input_decay.fill_(5.0)  # γ_x = exp(-5 δ): gone after a gap of ~1
    times = torch.tensor([[0.0, 0.01, 2.0]], dtype=torch.float64)
    values = torch.tensor([[[0.0], [0.0], [3.0]]])  # read backwards: 3.0 first
    seen_then_missing = IrregularBatch(
        times, values, torch.tensor([[[0.0], [0.0], [1.0]]]), torch.tensor([3])
    )
    never_seen = IrregularBatch(
        times, values * 0, torch.tensor([[[0.0], [0.0], [1.0]]]), torch.tensor([3])
    )
    # after 1.99 time units the carried 3.0 has decayed: later steps see (nearly) 0 as input;
    # the two summaries differ only through the first step, where 3.0 vs 0.0 was observed
    h1, h2 = enc(seen_then_missing), enc(never_seen)
    assert not torch.allclose(h1, h2)
    enc.input_decay.data.fill_(0.0)
    enc.input_bias.data.fill_(0.0)  # no decay: the carried value stays 3.0
    assert not torch.allclose(enc(seen_then_missing), h1)


def test_forecaster_trains_with_the_grud_encoder():
    df = make_periodic(n_series=12, n_points=12, observed_fraction=0.6, random_state=0)
    est = LatentODEForecaster(
        encoder="grud",
        latent_dim=2,
        encoder_hidden_dim=8,
        method="euler",
        step_size=0.25,
        max_epochs=3,
        random_state=0,
    ).fit(df)
    assert np.isfinite([h["train_loss"] for h in est.history_]).all()
    assert "nfe_encoder" not in est.history_[0]
    assert np.isfinite(est.predict(df, horizon=1.0, n_points=2)["y"]).all()
