"""Training behaviour: learning, checkpoint/resume, time limit, typed failures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentode import LatentODEForecaster
from latentode.exceptions import NonFiniteLossError, ParameterError, SolverError
from latentode.training import Callback


def test_resume_continues_where_the_checkpoint_stopped(periodic_df, fast, tmp_path):
    params = {**fast, "checkpoint_dir": str(tmp_path / "ckpt"), "early_stopping": False}
    full = LatentODEForecaster(**{**params, "max_epochs": 4}).fit(periodic_df)
    # an interrupted fit: 2 epochs, then resume up to 4
    LatentODEForecaster(**{**params, "max_epochs": 2}).fit(periodic_df)
    resumed = LatentODEForecaster(**{**params, "max_epochs": 4}).fit(periodic_df, resume=True)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3, 4]
    np.testing.assert_allclose(
        [h["train_loss"] for h in resumed.history_],
        [h["train_loss"] for h in full.history_],
        rtol=1e-4,
    )
    for a, b in zip(full.module_.state_dict().values(), resumed.module_.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_resume_without_checkpoint_dir_is_an_error(periodic_df, fast):
    with pytest.raises(ParameterError, match="checkpoint_dir"):
        LatentODEForecaster(**fast).fit(periodic_df, resume=True)


def test_time_limit_stops_training(periodic_df, fast):
    est = LatentODEForecaster(**{**fast, "max_epochs": 1000, "max_time": 1e-6}).fit(periodic_df)
    assert est.n_epochs_ == 1


def test_training_reduces_the_loss(periodic_df, fast):
    est = LatentODEForecaster(**{**fast, "max_epochs": 12, "early_stopping": False}).fit(
        periodic_df
    )
    losses = [h["train_loss"] for h in est.history_]
    assert losses[-1] < losses[0]


def test_divergence_raises_typed_error_with_epoch(periodic_df, fast):
    with pytest.raises((NonFiniteLossError, SolverError), match=r"(?i)epoch 1"):
        LatentODEForecaster(**{**fast, "lr": 1e30, "max_epochs": 3}).fit(
            periodic_df.assign(y=periodic_df["y"] * 1e30)
        )


def test_user_callbacks_see_every_epoch(periodic_df, fast):
    seen = []

    class Spy(Callback):
        def on_epoch_end(self, trainer, logs):
            seen.append((trainer.owner, logs["epoch"], trainer.data_summary["n_series"]))

    est = LatentODEForecaster(**{**fast, "callbacks": [Spy()]}).fit(periodic_df)
    assert [e for _, e, _ in seen] == [1, 2]
    assert seen[0][0] is est and seen[0][2] == periodic_df["unique_id"].nunique()


@pytest.mark.parametrize("adjoint", [False, True])
def test_adjoint_and_direct_training_agree(periodic_df, fast, adjoint):
    est = LatentODEForecaster(**{**fast, "adjoint": adjoint, "max_epochs": 1}).fit(periodic_df)
    h = est.history_[0]
    assert (h["nfe_backward"] > 0) == adjoint
    ref = LatentODEForecaster(**{**fast, "adjoint": False, "max_epochs": 1}).fit(periodic_df)
    # the adjoint's gradients match to solver tolerance, so the first epoch barely differs
    assert h["train_loss"] == pytest.approx(ref.history_[0]["train_loss"], rel=1e-2)
