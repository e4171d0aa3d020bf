"""``lr_schedule``: the forecaster's learning rate per step, exponential or cosine."""

from __future__ import annotations

import numpy as np
import pytest

from latentode import LatentODEForecaster
from latentode.exceptions import ParameterError
from latentode.training import Callback


class RecordLR(Callback):
    """The learning rate at the end of each epoch."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def reset(self) -> None:
        self.lrs = []

    def on_epoch_end(self, trainer, logs) -> None:
        self.lrs.append(trainer.optimizer.param_groups[0]["lr"])


def _fit(periodic_df, fast, **params) -> RecordLR:
    record = RecordLR()
    settings = {**fast, "early_stopping": False, "callbacks": [record], **params}
    LatentODEForecaster(**settings).fit(periodic_df)
    return record


def test_cosine_schedule_anneals_over_the_epoch_budget(periodic_df, fast):
    # 24 series in batches of 16 without validation: 2 steps an epoch, 8 in the budget;
    # the last step of epoch e is step 2e - 1 (0-based).
    record = _fit(periodic_df, fast, lr=1e-2, lr_schedule="cosine", max_epochs=4)
    expected = [
        1e-2 * (0.01 + 0.99 * (1 + np.cos(np.pi * (2 * e - 1) / 8)) / 2) for e in (1, 2, 3, 4)
    ]
    np.testing.assert_allclose(record.lrs, expected, rtol=1e-6)


def test_cosine_schedule_follows_the_time_budget_when_it_binds(periodic_df, fast):
    # 10,000 epochs would keep the rate near lr; the 1.5 s budget is spent long before, so
    # the rate falls from near lr towards its floor (1 % of lr) before the fit stops.
    record = _fit(periodic_df, fast, lr=1e-2, lr_schedule="cosine", max_epochs=10_000, max_time=1.5)
    assert len(record.lrs) > 2
    assert record.lrs[0] > 5e-3 and record.lrs[-1] < 1e-3
    assert all(a >= b for a, b in zip(record.lrs, record.lrs[1:]))


def test_exponential_schedule_decays_per_epoch(periodic_df, fast):
    record = _fit(periodic_df, fast, lr=1e-2, lr_decay=0.5, max_epochs=3)
    np.testing.assert_allclose(record.lrs, [5e-3, 2.5e-3, 1.25e-3], rtol=1e-9)


def test_unknown_schedule_is_refused(periodic_df, fast):
    with pytest.raises(ParameterError, match="'lr_schedule' parameter"):
        LatentODEForecaster(**{**fast, "lr_schedule": "step"}).fit(periodic_df)
