"""A fit that raises or is interrupted leaves the estimator as it was (issue 13, item 2)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from latentode import LatentODEForecaster
from latentode.exceptions import NonFiniteLossError
from latentode.training import Callback, Checkpoint

FAST = dict(latent_dim=3, encoder_hidden_dim=6, field_hidden_dim=8, batch_size=8, random_state=0)


class RaiseAt(Callback):
    """Raise ``error`` at the end of epoch ``epoch``."""

    def __init__(self, epoch: int, error: BaseException) -> None:
        self.epoch, self.error = epoch, error

    def on_epoch_end(self, trainer, logs) -> None:
        if logs["epoch"] == self.epoch:
            raise self.error


@pytest.mark.parametrize(
    "error", [NonFiniteLossError("loss became nan"), KeyboardInterrupt()], ids=["nan", "sigint"]
)
def test_a_failed_refit_keeps_the_previous_model(periodic_df, error):
    est = LatentODEForecaster(**FAST, max_epochs=2).fit(periodic_df)
    before = est.predict(periodic_df, horizon=1.0, n_points=2)
    history, calibration = copy.deepcopy(est.history_), copy.deepcopy(est.noise_calibration_)
    est.set_params(max_epochs=5, callbacks=[RaiseAt(3, error)])
    with pytest.raises(type(error)):
        est.fit(periodic_df)
    after = est.predict(periodic_df, horizon=1.0, n_points=2)
    np.testing.assert_array_equal(after["y"], before["y"])
    assert est.history_ == history and est.n_epochs_ == 2
    assert est.noise_calibration_ == calibration
    assert not est.module_.training  # back in eval mode


def test_an_interrupted_first_fit_leaves_the_estimator_unfitted(periodic_df):
    est = LatentODEForecaster(**FAST, max_epochs=3, callbacks=[RaiseAt(2, KeyboardInterrupt())])
    with pytest.raises(KeyboardInterrupt):
        est.fit(periodic_df)
    with pytest.raises(NotFittedError):
        est.predict(periodic_df, horizon=1.0, n_points=2)
    with pytest.raises(NotFittedError):
        est.save("never-written")


class Remember(Callback):
    """Keep a copy of the weights at the end of every epoch; arm an interrupt after ``epoch``."""

    def __init__(self, epoch: int) -> None:
        self.epoch, self.weights, self.armed = epoch, {}, False

    def on_epoch_end(self, trainer, logs) -> None:
        self.weights[logs["epoch"]] = copy.deepcopy(trainer.model.state_dict())
        self.armed = logs["epoch"] == self.epoch


def test_an_interrupt_mid_epoch_keeps_the_last_complete_checkpoint(
    periodic_df, tmp_path, monkeypatch
):
    remember = Remember(epoch=2)
    step = torch.optim.Adam.step

    steps_in_epoch_3 = []

    def interrupted_step(self, *args, **kwargs):
        if remember.armed:
            steps_in_epoch_3.append(1)
            if len(steps_in_epoch_3) == 2:  # after one update of epoch 3: mid-epoch
                raise KeyboardInterrupt
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", interrupted_step)
    est = LatentODEForecaster(
        **FAST,
        max_epochs=5,
        early_stopping=False,  # its on_fit_end would put the best weights back first
        checkpoint_dir=str(tmp_path),
        callbacks=[remember],
    )
    with pytest.raises(KeyboardInterrupt):
        est.fit(periodic_df)
    assert len(steps_in_epoch_3) == 2  # the interrupt did come mid-epoch
    saved = torch.load(tmp_path / Checkpoint.filename, weights_only=False)
    assert saved["epoch"] == 2
    for key, value in remember.weights[2].items():
        torch.testing.assert_close(saved["model"][key], value, rtol=0, atol=0)
