from __future__ import annotations

import numpy as np
import pytest
import torch

from latentode.data import IrregularDataset, Series, collate


def _series(sid: str, k: int, d: int = 2, start: float = 0.0) -> Series:
    times = start + np.arange(k, dtype=np.float64) * 0.5
    values = np.arange(k * d, dtype=np.float32).reshape(k, d) + 1.0
    mask = np.ones((k, d), dtype=bool)
    mask[0, -1] = False
    values[0, -1] = 0.0
    return Series(id=sid, times=times, values=values, mask=mask)


def test_collate_pads_and_records_lengths() -> None:
    series = [_series("a", 3), _series("b", 5, start=1.0), _series("c", 1, start=2.0)]
    batch = collate(series)
    assert batch.times.dtype == torch.float64 and batch.times.shape == (3, 5)
    assert batch.values.dtype == torch.float32 and batch.values.shape == (3, 5, 2)
    assert batch.mask.dtype == torch.float32 and batch.mask.shape == (3, 5, 2)
    assert batch.lengths.dtype == torch.long
    assert batch.lengths.tolist() == [3, 5, 1]
    assert batch.ids == ["a", "b", "c"]
    # padding repeats the last time; values and mask are zero there
    np.testing.assert_array_equal(batch.times[0].numpy(), [0.0, 0.5, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(batch.times[2].numpy(), [2.0] * 5)
    assert batch.values[0, 3:].abs().sum() == 0 and batch.mask[0, 3:].sum() == 0
    assert batch.mask[2, 1:].sum() == 0
    for i, s in enumerate(series):
        k = len(s)
        np.testing.assert_array_equal(batch.times[i, :k].numpy(), s.times)
        np.testing.assert_array_equal(batch.values[i, :k].numpy(), s.values)
        np.testing.assert_array_equal(batch.mask[i, :k].numpy(), s.mask.astype(np.float32))
    assert batch.mask[0, 0, 1] == 0.0 and batch.mask[0, 0, 0] == 1.0


def test_batch_to_device_copies() -> None:
    batch = collate([_series("a", 2)], device="cpu")
    moved = batch.to(torch.device("cpu"))
    assert moved is not batch and moved.device.type == "cpu"
    assert torch.equal(moved.values, batch.values)
    assert moved.n_series == 1


def test_collate_rejects_empty_and_mixed_features() -> None:
    with pytest.raises(ValueError, match="at least one series"):
        collate([])
    with pytest.raises(ValueError, match=r"Expected 2 features in every series.*'b'"):
        collate([_series("a", 2), _series("b", 2, d=3)])


def test_series_checks_shapes_and_order() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        Series(id="a", times=np.array([0.0, 0.0]), values=np.zeros((2, 1)), mask=np.ones((2, 1)))
    with pytest.raises(ValueError, match="one row of values per time"):
        Series(id="a", times=np.array([0.0]), values=np.zeros((2, 1)), mask=np.ones((2, 1)))
    s = _series("a", 3)
    assert s.values.dtype == np.float32 and s.mask.dtype == bool and len(s) == 3


def test_dataset_accessors_and_subset() -> None:
    ds = IrregularDataset([_series("a", 3), _series("b", 4), _series("c", 2)])
    assert len(ds) == 3 and ds.ids == ["a", "b", "c"] and ds.n_features == 2
    assert ds.n_observations == (3 + 4 + 2) * 2 - 3
    assert ds[1].id == "b"
    sub = ds.subset([2, 0])
    assert sub.ids == ["c", "a"] and sub.n_features == 2
    assert ds.subset(np.array([False, True, False])).ids == ["b"]
    assert ds.subset([0, 0]).ids == ["a", "a"]
    np.testing.assert_array_equal(ds.lengths, [3, 4, 2])
    empty = ds.subset([])
    assert len(empty) == 0 and empty.n_features == 2
