"""CUDA path (skipped on machines without a GPU; run where one is available)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentode import LatentODEForecaster, load


@pytest.mark.gpu
@pytest.mark.parametrize("adjoint", [False, True])
def test_fit_predict_save_load_on_cuda(periodic_df, fast, adjoint, tmp_path):
    est = LatentODEForecaster(**{**fast, "device": "cuda", "adjoint": adjoint}).fit(periodic_df)
    assert next(est.module_.parameters()).is_cuda
    out = est.predict_interval(periodic_df, horizon=1.0, n_points=3)
    assert np.isfinite(out["y"]).all()
    est.save(tmp_path / "m")
    cpu = load(tmp_path / "m", device="cpu")
    np.testing.assert_allclose(
        cpu.predict(periodic_df, horizon=1.0, n_points=3)["y"],
        est.predict(periodic_df, horizon=1.0, n_points=3)["y"],
        rtol=1e-3,
        atol=1e-3,
    )


def test_auto_device_picks_cuda_when_available(periodic_df, fast):
    est = LatentODEForecaster(**{**fast, "max_epochs": 1}).fit(periodic_df)
    assert est.device_.type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error message")
def test_cuda_without_a_gpu_is_a_clear_error(periodic_df, fast):
    from latentode.exceptions import ParameterError

    with pytest.raises(ParameterError, match="CUDA is not available"):
        LatentODEForecaster(**{**fast, "device": "cuda"}).fit(periodic_df)
