"""``encoder_step_size``: the ODE-RNN encoder's own step, apart from the decoder's
``step_size``, and models saved before it existed keep stepping as they did."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from latentode import LatentODEForecaster, load
from latentode.batch import IrregularBatch
from latentode.nn.odernn import ODERNNEncoder
from latentode.nn.solve import SolverConfig


@pytest.mark.parametrize(("step", "expected"), [(0.5, 1 + 3 + 1), (0.125, 2 + 10 + 4), (None, 3)])
def test_the_encoder_crosses_each_gap_in_steps_of_its_step_size(step, expected):
    # one series observed at 0, 0.25, 1.5 and 2 (exact in binary): gaps 0.25, 1.25, 0.5
    times = torch.tensor([[0.0, 0.25, 1.5, 2.0]], dtype=torch.float64)
    batch = IrregularBatch(times, torch.zeros(1, 4, 1), torch.ones(1, 4, 1), torch.tensor([4]))
    encoder = ODERNNEncoder(1, 4, solver=SolverConfig(method="euler", step_size=step))
    encoder(batch)
    assert encoder.counter.calls == expected


FIT = {"max_epochs": 2, "batch_size": 16, "random_state": 0, "calibrate_noise": False}


def test_the_estimator_gives_the_encoder_its_own_step(periodic_df):
    est = LatentODEForecaster(encoder_step_size=0.5, step_size=0.1, **FIT).fit(periodic_df)
    assert est.module_.encoder.solver.step_size == 0.5
    assert est.module_.encoder.solver.method == est.encoder_method
    assert est.module_.solver.step_size == 0.1  # the decoder keeps step_size's grid
    other = LatentODEForecaster(encoder_step_size=0.1, step_size=0.1, **FIT).fit(periodic_df)
    assert other.history_[-1]["train_loss"] != est.history_[-1]["train_loss"]


def test_models_saved_before_encoder_step_size_keep_the_decoders_step(
    periodic_df, tmp_path, saved_before
):
    # a model trained when the encoder stepped with step_size (0.2 here)
    est = LatentODEForecaster(step_size=0.2, encoder_step_size=0.2, **FIT).fit(periodic_df)
    path = est.save(tmp_path / "model")
    saved_before(path, [], ["encoder_step_size"])
    loaded = load(path)
    assert loaded.encoder_step_size == 0.2
    assert loaded.module_.encoder.solver.step_size == 0.2
    ids = periodic_df["unique_id"].unique()[:3]
    history = periodic_df[periodic_df["unique_id"].isin(ids)]
    expected = est.predict(history, horizon=1.0, n_points=3)["y"]
    np.testing.assert_allclose(loaded.predict(history, horizon=1.0, n_points=3)["y"], expected)

    state = est.__getstate__()
    del state["encoder_step_size"]
    unpickled = pickle.loads(pickle.dumps(est))
    unpickled.__setstate__(state)
    assert unpickled.encoder_step_size == 0.2
    np.testing.assert_allclose(unpickled.predict(history, horizon=1.0, n_points=3)["y"], expected)
