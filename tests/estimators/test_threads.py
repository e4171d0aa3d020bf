"""``n_threads`` holds during fit and inference and is restored afterwards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentode import FFJORDDensity, LatentODEForecaster, NeuralODEDynamics
from latentode.datasets import make_periodic
from latentode.exceptions import ParameterError
from latentode.training import Callback


class SeeThreads(Callback):
    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_epoch_end(self, trainer, logs) -> None:
        self.seen.append(torch.get_num_threads())


def _inference_threads(est, data, monkeypatch) -> set[int]:
    """The thread counts seen by every module call of one inference (non-empty)."""
    inside: list[int] = []
    real = torch.nn.Module.__call__

    def spy(self, *args, **kwargs):  # every module call records the thread count
        inside.append(torch.get_num_threads())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "__call__", spy)
    if isinstance(est, FFJORDDensity):
        est.score_samples(data)
    else:
        est.predict(data, horizon=1.0, n_points=2)
    monkeypatch.undo()
    assert inside
    return set(inside)


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("cls", [LatentODEForecaster, NeuralODEDynamics, FFJORDDensity])
def test_n_threads_holds_during_fit_and_is_restored(cls, two_threads, monkeypatch):
    seen = SeeThreads()
    est = cls(max_epochs=2, n_threads=1, callbacks=[seen], random_state=0)
    if cls is FFJORDDensity:
        data = np.random.default_rng(0).normal(size=(64, 2))
    else:
        data = make_periodic(n_series=8, n_points=10, random_state=0)
    est.fit(data)
    assert seen.seen == [1, 1]
    assert torch.get_num_threads() == 2
    assert _inference_threads(est, data, monkeypatch) == {1}
    assert torch.get_num_threads() == 2


def test_n_threads_is_validated():
    df = make_periodic(n_series=4, n_points=5, random_state=0)
    with pytest.raises(ParameterError, match="n_threads"):
        LatentODEForecaster(n_threads=0).fit(df)


@pytest.mark.parametrize("cls", [LatentODEForecaster, NeuralODEDynamics, FFJORDDensity])
def test_the_auto_default_fits_on_one_thread_and_leaves_inference_alone(
    cls, two_threads, monkeypatch
):
    """benchmarks/threads.py: one thread fits as fast as two on a quiet 2-core machine and
    3.6x faster beside a busy process; inference on large batches gains from threads."""
    seen = SeeThreads()
    est = cls(max_epochs=2, callbacks=[seen], random_state=0)
    assert est.n_threads == "auto"
    if cls is FFJORDDensity:
        data = np.random.default_rng(0).normal(size=(64, 2))
    else:
        data = make_periodic(n_series=8, n_points=10, random_state=0)
    est.fit(data)
    assert seen.seen == [1, 1]
    assert torch.get_num_threads() == 2
    assert _inference_threads(est, data, monkeypatch) == {2}


def test_a_forecast_agrees_on_one_or_two_threads(fitted, periodic_df):
    """A served model (torch's thread default) answers what the estimator computes in the
    caller's process (one thread), to float32 rounding: no random stream or chunking may
    depend on the thread count (BLAS products may still round differently)."""
    history = periodic_df[periodic_df["unique_id"].isin(["s0000", "s0001", "s0002"])]
    out = {}
    for n in (1, 2):
        fitted.set_params(n_threads=n)
        out[n] = fitted.predict_quantiles(history, horizon=1.0, n_points=5, alpha=[0.1, 0.9])
    fitted.set_params(n_threads="auto")
    for column in ("y_q0.1", "y_q0.9"):
        np.testing.assert_allclose(
            out[1][column].to_numpy(), out[2][column].to_numpy(), rtol=1e-6, atol=1e-7
        )
