"""Batches are capped in padded size, so one long series does not inflate its batch-mates.

Before, a batch was padded to its longest series: one series of 2,000 points among 199 of
20 made its batch of 50 cost 50 × 2,000 padded rows (13 s and 3.4 GB an epoch in
``benchmarks/spans.py``, against 3 s and 0.6 GB with the cap).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from latentode.data import IrregularDataset, LongFrameEncoder
from latentode.estimators._tensors import LENGTH_QUANTILE, PaddedSeries


def padded(lengths: list[int]) -> PaddedSeries:
    rows = []
    for i, n in enumerate(lengths):
        t = np.arange(n, dtype=float)
        rows.append(pd.DataFrame({"unique_id": f"s{i:03d}", "ds": t, "y": np.sin(t)}))
    frame = pd.concat(rows, ignore_index=True)
    dataset = LongFrameEncoder().fit(frame).transform(frame)
    assert isinstance(dataset, IrregularDataset)
    return PaddedSeries(dataset, torch.device("cpu"))


def epoch(series: PaddedSeries, batch_size: int, seed: int = 0) -> list[list[int]]:
    gen = torch.Generator().manual_seed(seed)
    return [b.tolist() for b in series.batches(batch_size, gen, shuffle=True)]


def test_one_long_series_gets_a_batch_of_its_own_and_no_batch_exceeds_the_cap() -> None:
    lengths = [20] * 199 + [2000]
    series = padded(lengths)
    ref = int(np.ceil(np.quantile(lengths, LENGTH_QUANTILE)))
    batches = epoch(series, 50)
    assert sorted(i for b in batches for i in b) == list(range(200))  # each series once
    for b in batches:
        assert len(b) <= 50
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 50 * ref
    assert [199] in batches  # the long series alone
    assert len(batches) <= 4 + 2  # the 4 batches of 50, and the split one's parts
    # inference chunks keep the series' order and cover each series once
    chunks = [index.tolist() for index, _ in series.chunks(64)]
    assert [i for c in chunks for i in c] == list(range(200))
    assert [199] in chunks


def test_even_lengths_give_exactly_the_plain_batches() -> None:
    series = padded([20 + (i % 3) for i in range(130)])
    gen = torch.Generator().manual_seed(3)
    order = torch.randperm(130, generator=gen)
    plain = [order[s : s + 50].tolist() for s in range(0, 130, 50)]
    assert epoch(series, 50, seed=3) == plain
