"""``patience="auto"``: early stopping's patience counted in optimiser steps."""

from __future__ import annotations

import pytest

from latentode import LatentODEForecaster, load
from latentode.estimators.forecaster._build import (
    AUTO_PATIENCE_STEPS,
    MIN_AUTO_PATIENCE,
    patience_epochs,
)
from latentode.exceptions import ParameterError


@pytest.mark.parametrize(
    ("patience", "n_series", "batch_size", "expected"),
    [
        (7, 10_000, 50, 7),  # an int is taken as it is
        ("auto", 10_000, 50, MIN_AUTO_PATIENCE),  # 200 steps an epoch: the floor
        ("auto", 196, 50, AUTO_PATIENCE_STEPS // 4),  # 4 steps an epoch
        ("auto", 201, 50, AUTO_PATIENCE_STEPS // 5),  # a last, partial batch is a step
        ("auto", 12, 50, AUTO_PATIENCE_STEPS),  # one step an epoch
    ],
)
def test_patience_epochs(patience, n_series, batch_size, expected):
    assert patience_epochs(patience, n_series, batch_size) == expected


def test_auto_patience_is_resolved_from_the_training_series(periodic_df, fast, tmp_path):
    # 24 series, 10 % held out for validation: 21 or 22 training series in batches of 16
    # make 2 steps an epoch.
    est = LatentODEForecaster(**{**fast, "patience": "auto"}).fit(periodic_df)
    assert est.patience_ == AUTO_PATIENCE_STEPS // 2
    assert load(est.save(tmp_path / "model")).patience_ == est.patience_
    fixed = LatentODEForecaster(**{**fast, "patience": 3}).fit(periodic_df)
    assert fixed.patience_ == 3


def test_early_stopping_waits_the_resolved_patience(periodic_df, fast):
    # With patience 1 a fit stops one epoch after its best; "auto" (200 epochs here) does
    # not stop within 6 epochs.
    short = LatentODEForecaster(**{**fast, "patience": 1, "max_epochs": 6, "lr": 0.2})
    short.fit(periodic_df)
    assert short.n_epochs_ == short.best_epoch_ + 1 < 6
    auto = LatentODEForecaster(**{**fast, "patience": "auto", "max_epochs": 6, "lr": 0.2})
    assert auto.fit(periodic_df).n_epochs_ == 6


def test_patience_must_be_a_positive_int_or_auto(periodic_df, fast):
    with pytest.raises(ParameterError, match="'patience' parameter"):
        LatentODEForecaster(**{**fast, "patience": "sometimes"}).fit(periodic_df)
