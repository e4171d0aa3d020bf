"""Training contexts: which observations the encoder sees."""

from __future__ import annotations

import torch

from latentode.batch import IrregularBatch
from latentode.models._context import compact_rows, sample_context


def _times(n_series: int = 64, n_steps: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    times = torch.sort(torch.rand(n_series, n_steps, dtype=torch.float64), dim=1).values
    lengths = torch.randint(1, n_steps + 1, (n_series,))
    return times, lengths


def test_every_series_keeps_an_observation_and_padding_is_never_kept():
    times, lengths = _times()
    g = torch.Generator().manual_seed(0)
    for extrap_prob in (0.0, 0.5, 1.0):
        keep = sample_context(
            times, lengths, extrap_prob=extrap_prob, min_prefix=0.3, dropout=0.9, generator=g
        )
        assert keep.any(dim=1).all()
        padding = torch.arange(10).unsqueeze(0) >= lengths.unsqueeze(1)
        assert not (keep & padding).any()


def test_prefixes_are_prefixes_and_dropout_may_hide_the_first_observation():
    times, lengths = _times(256)
    g = torch.Generator().manual_seed(1)
    prefix = sample_context(
        times, lengths, extrap_prob=1.0, min_prefix=0.3, dropout=0.0, generator=g
    )
    # a prefix keeps a contiguous run from the first observation
    assert prefix[:, 0].all()
    assert (prefix.long().diff(dim=1) <= 0).all()
    dropped = sample_context(
        times, lengths, extrap_prob=0.0, min_prefix=0.3, dropout=0.5, generator=g
    )
    assert not dropped[lengths > 1, 0].all()


def test_compact_rows_moves_kept_steps_to_the_front_in_order():
    times = torch.tensor([[0.0, 1.0, 2.0, 3.0]], dtype=torch.float64)
    values = torch.arange(4.0).view(1, 4, 1)
    mask = torch.ones(1, 4, 1)
    keep = torch.tensor([[False, True, False, True]])
    batch = IrregularBatch(times, values, mask, torch.tensor([4]), ids=["a"])
    out = compact_rows(keep, batch)
    t, v, m, lengths = out.times, out.values, out.mask, out.lengths
    assert out.ids == ["a"]
    assert lengths.tolist() == [2]
    assert t.tolist() == [[1.0, 3.0]] and v.view(-1).tolist() == [1.0, 3.0]
    assert m.view(-1).tolist() == [1.0, 1.0]
