from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latentode.data import FeatureScaler


def test_fit_ignores_nan(rng: np.random.Generator) -> None:
    x = rng.normal(3.0, 2.0, size=(200, 3))
    holes = rng.random(x.shape) < 0.3
    x_nan = np.where(holes, np.nan, x)
    scaler = FeatureScaler.fit(x_nan)
    for j in range(3):
        observed = x[~holes[:, j], j]
        assert scaler.mean[j] == pytest.approx(observed.mean(), rel=1e-12)
        assert scaler.std[j] == pytest.approx(observed.std(), rel=1e-12)
    z = scaler.transform(x_nan)
    assert np.array_equal(np.isnan(z), holes)
    np.testing.assert_allclose(np.nanmean(z, axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.nanstd(z, axis=0), 1.0, rtol=1e-12)


def test_constant_and_all_nan_features() -> None:
    x = np.array([[1.0, np.nan, 5.0], [1.0, np.nan, np.nan], [1.0, np.nan, 7.0]])
    scaler = FeatureScaler.fit(x)
    np.testing.assert_array_equal(scaler.mean, [1.0, 0.0, 6.0])
    np.testing.assert_array_equal(scaler.std, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(scaler.mean_, scaler.mean)
    np.testing.assert_array_equal(scaler.scale_, scaler.std)


def test_inverse_transform_on_any_leading_shape(rng: np.random.Generator) -> None:
    scaler = FeatureScaler.fit(rng.normal(5.0, 3.0, size=(50, 2)))
    z = rng.normal(size=(4, 7, 2))
    x = scaler.inverse_transform(z)
    assert x.shape == (4, 7, 2)
    np.testing.assert_allclose(x, z * scaler.std + scaler.mean)
    np.testing.assert_allclose(scaler.transform(x), z, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform_scale(np.ones((3, 2))), [scaler.std] * 3)


def test_torch_tensors_keep_dtype(rng: np.random.Generator) -> None:
    scaler = FeatureScaler.fit(rng.normal(5.0, 3.0, size=(50, 2)))
    z = torch.zeros(3, 2, dtype=torch.float32)
    x = scaler.inverse_transform(z)
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
    np.testing.assert_allclose(x.numpy(), np.tile(scaler.mean, (3, 1)), rtol=1e-6)


def test_wrong_last_axis_is_rejected(rng: np.random.Generator) -> None:
    scaler = FeatureScaler.fit(rng.normal(size=(10, 2)))
    with pytest.raises(ValueError, match=r"last axis has 2 features; got shape \(4, 3\)"):
        scaler.inverse_transform(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="Expected a 2-D array"):
        FeatureScaler.fit(np.zeros(5))
    with pytest.raises(ValueError, match="1 infinite value"):
        FeatureScaler.fit(np.array([[np.inf], [1.0]]))


def test_json_round_trip(rng: np.random.Generator) -> None:
    scaler = FeatureScaler.fit(rng.normal(size=(10, 3)))
    restored = FeatureScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_array_equal(restored.mean, scaler.mean)
    np.testing.assert_array_equal(restored.std, scaler.std)


def test_fitted_arrays_are_read_only(rng: np.random.Generator) -> None:
    scaler = FeatureScaler.fit(rng.normal(size=(10, 2)))
    with pytest.raises(ValueError, match="read-only"):
        scaler.mean[0] = 1.0
