"""CUDA paths of all three estimators (skipped on machines without a GPU).

Each ``gpu`` test fits on CUDA, uses every public method there, and checks the fitted
model against the same model moved to the CPU (``load(..., device="cpu")``): a model is
the same function on either device, up to float32 rounding, because inference draws its
random numbers on the CPU. Run them where a GPU is: ``pytest -m gpu``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentode import FFJORDDensity, LatentODEForecaster, NeuralODEDynamics, load
from latentode.datasets import make_linear_spiral

TOL = {"rtol": 1e-3, "atol": 1e-3}


@pytest.mark.gpu
@pytest.mark.parametrize(
    "settings",
    [
        {"method": "dopri5"},  # per-series adaptive steps
        {"adjoint": True},
        {"method": "euler", "step_size": 0.1},
        {"posterior": "ffjord", "flow_hidden_dims": (8,)},
        {"observation": "gaussian", "encoder": "grud"},
    ],
    ids=["dopri5", "adjoint", "euler", "ffjord", "gaussian-grud"],
)
def test_forecaster_on_cuda_matches_cpu(periodic_df, fast, settings, tmp_path):
    est = LatentODEForecaster(**{**fast, "device": "cuda", **settings}).fit(periodic_df)
    assert est.device_.type == "cuda"
    assert all(p.is_cuda for p in est.module_.parameters())
    out = est.predict_interval(periodic_df, horizon=1.0, n_points=3)
    assert np.isfinite(out["y"]).all()
    assert (out["y_lower"] <= out["y_upper"]).all()
    draws = est.sample(periodic_df, horizon=1.0, n_points=3, n_samples=4)
    assert np.isfinite(draws["y"]).all()
    latent = est.transform(periodic_df)
    assert np.isfinite(latent).all()
    score = est.score(periodic_df)
    assert np.isfinite(score)

    est.save(tmp_path / "m")
    cpu = load(tmp_path / "m", device="cpu")
    assert cpu.device_.type == "cpu"
    np.testing.assert_allclose(
        cpu.predict(periodic_df, horizon=1.0, n_points=3)["y"],
        est.predict(periodic_df, horizon=1.0, n_points=3)["y"],
        **TOL,
    )
    np.testing.assert_allclose(
        cpu.score_samples(periodic_df), est.score_samples(periodic_df), **TOL
    )
    back = load(tmp_path / "m", device="cuda")
    np.testing.assert_allclose(
        back.predict(periodic_df, horizon=1.0, n_points=3)["y"],
        est.predict(periodic_df, horizon=1.0, n_points=3)["y"],
        rtol=1e-6,
        atol=1e-6,
    )


@pytest.mark.gpu
def test_forecaster_trained_on_cpu_predicts_the_same_on_cuda(periodic_df, fast, tmp_path):
    est = LatentODEForecaster(**{**fast, "device": "cpu"}).fit(periodic_df)
    est.save(tmp_path / "m")
    gpu = load(tmp_path / "m", device="cuda")
    assert next(gpu.module_.parameters()).is_cuda
    np.testing.assert_allclose(
        gpu.predict(periodic_df, horizon=1.0, n_points=5)["y"],
        est.predict(periodic_df, horizon=1.0, n_points=5)["y"],
        **TOL,
    )


@pytest.mark.gpu
def test_low_memory_training_on_cuda_matches_cpu(periodic_df, fast, monkeypatch):
    """``memory="low"``: checkpointed encoder segments and reconstruction blocks (made
    small here so these short series use them) train on CUDA as on the CPU."""
    import latentode.models.latent_ode as latent_ode
    from latentode.nn import _scan

    monkeypatch.setitem(latent_ode.QUERY_CHUNK, "low", 4)
    monkeypatch.setattr(_scan, "SEGMENT", 2)
    settings = {**fast, "memory": "low", "max_epochs": 1, "random_state": 0}
    gpu = LatentODEForecaster(**settings, device="cuda").fit(periodic_df)
    cpu = LatentODEForecaster(**settings, device="cpu").fit(periodic_df)
    assert gpu.history_[0]["train_loss"] == pytest.approx(cpu.history_[0]["train_loss"], rel=1e-3)


@pytest.mark.gpu
@pytest.mark.parametrize("base", ["gmm", "normal"])
def test_density_on_cuda_matches_cpu(base, tmp_path):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 0.5, (200, 2)), rng.normal(2, 0.5, (200, 2))])
    est = FFJORDDensity(
        hidden_dims=(16,), max_epochs=2, base=base, device="cuda", random_state=0
    ).fit(x)
    assert all(p.is_cuda for p in est.module_.parameters())
    scores = est.score_samples(x)
    assert np.isfinite(scores).all()
    draws = est.sample(50, random_state=1)
    assert draws.shape == (50, 2) and np.isfinite(draws).all()
    est.save(tmp_path / "d")
    cpu = load(tmp_path / "d", device="cpu")
    np.testing.assert_allclose(cpu.score_samples(x), scores, **TOL)
    np.testing.assert_allclose(cpu.sample(50, random_state=1), draws, rtol=1e-3, atol=2e-3)


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["dopri5", "rk4"])
def test_dynamics_on_cuda_matches_cpu(method, tmp_path):
    df, _ = make_linear_spiral(n_series=3, n_points=120, t_max=6.0, random_state=1)
    est = NeuralODEDynamics(
        method=method, max_epochs=3, early_stopping=False, device="cuda", random_state=0
    ).fit(df)
    assert all(p.is_cuda for p in est.module_.parameters())
    pred = est.predict(df, horizon=1.0, n_points=4)
    assert np.isfinite(pred.select_dtypes("number").to_numpy()).all()
    assert np.isfinite(est.score(df))
    grid = np.array([[0.5, 1.0], [1.0, -1.0]])
    field = est.vector_field(grid)
    sim = est.simulate(grid, np.linspace(0.0, 1.0, 5))
    est.save(tmp_path / "n")
    cpu = load(tmp_path / "n", device="cpu")
    np.testing.assert_allclose(cpu.vector_field(grid), field, **TOL)
    np.testing.assert_allclose(
        cpu.simulate(grid, np.linspace(0.0, 1.0, 5)).select_dtypes("number").to_numpy(),
        sim.select_dtypes("number").to_numpy(),
        **TOL,
    )


def test_auto_device_picks_cuda_when_available(periodic_df, fast):
    est = LatentODEForecaster(**{**fast, "max_epochs": 1}).fit(periodic_df)
    assert est.device_.type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error message")
@pytest.mark.parametrize("cls", [LatentODEForecaster, FFJORDDensity, NeuralODEDynamics])
def test_cuda_without_a_gpu_is_a_clear_error(periodic_df, cls):
    from latentode.exceptions import ParameterError

    x = np.random.default_rng(0).normal(size=(40, 2)) if cls is FFJORDDensity else periodic_df
    with pytest.raises(ParameterError, match="CUDA is not available"):
        cls(device="cuda", max_epochs=1).fit(x)
