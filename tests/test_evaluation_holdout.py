"""``holdout_tasks``: the real-data protocol shared by benchmarks/real.py and the demo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentode.datasets import make_periodic
from latentode.evaluation import holdout_tasks
from latentode.exceptions import ParameterError


def test_holdout_tasks_hide_test_values_and_scale_by_the_training_series():
    df = make_periodic(n_series=20, n_points=10, observed_fraction=1.0, random_state=0)
    df["z"] = 2.0 * df["y"]
    train, tasks, scale = holdout_tasks(df, target_cols=["y"], random_state=3)
    test_ids = set(df["unique_id"]) - set(train["unique_id"])
    assert len(test_ids) == 6  # 30 % of the series, whole
    assert scale == {"y": float(np.nanstd(train["y"]))}

    history, target = tasks["extrapolation"]
    assert set(history["unique_id"]) == set(target["unique_id"]) == test_ids
    last = history.groupby("unique_id")["ds"].max()
    assert (target["ds"].to_numpy() > last[target["unique_id"]].to_numpy()).all()
    assert (target.groupby("unique_id").size() == 2).all()  # 20 % of 10 timestamps
    assert list(target.columns) == ["unique_id", "ds", "y"]

    history, target = tasks["interpolation"]
    hidden = target.merge(history, on=["unique_id", "ds"], suffixes=("", "_seen"))
    assert len(hidden) == len(target) == 6 * 3  # 30 % of each test series' 10 values
    assert hidden["y_seen"].isna().all() and hidden["z"].notna().all()  # only y is hidden
    truth = df.merge(target[["unique_id", "ds"]], on=["unique_id", "ds"])
    pd.testing.assert_series_equal(
        target.sort_values(["unique_id", "ds"])["y"].reset_index(drop=True),
        truth.sort_values(["unique_id", "ds"])["y"].reset_index(drop=True),
    )


def test_holdout_tasks_name_a_missing_target_column():
    df = make_periodic(n_series=4, n_points=5, random_state=0)
    with pytest.raises(
        ParameterError, match=r"target column\(s\) \['conc'\].*'unique_id', 'ds', 'y'"
    ):
        holdout_tasks(df, target_cols=["conc"])
    with pytest.raises(ParameterError, match=r"known covariate column\(s\) \['rate'\]"):
        holdout_tasks(df, target_cols=["y"], known_cols=("rate",))


def test_known_covariates_stay_in_the_extrapolation_history():
    df = make_periodic(n_series=20, n_points=10, observed_fraction=1.0, random_state=0)
    df["dose"] = np.arange(len(df), dtype=float)
    _, tasks, _ = holdout_tasks(df, target_cols=["y"], known_cols=("dose",), random_state=3)
    history, target = tasks["extrapolation"]
    assert list(target.columns) == ["unique_id", "ds", "y"]
    # the hidden times are in the history with the dose and without y
    ahead = target[["unique_id", "ds"]].merge(history, on=["unique_id", "ds"])
    assert len(ahead) == len(target) and ahead["y"].isna().all()
    truth = target[["unique_id", "ds"]].merge(df, on=["unique_id", "ds"])
    np.testing.assert_array_equal(ahead["dose"].to_numpy(), truth["dose"].to_numpy())
    assert history.groupby("unique_id")["ds"].is_monotonic_increasing.all()
    # without target columns every feature but the known ones is a target
    _, by_default, scale = holdout_tasks(df, known_cols=("dose",), random_state=3)
    assert list(scale) == ["y"]
    assert "dose" not in by_default["interpolation"][1].columns
    # without known columns the hidden times are not in the history at all
    _, plain, _ = holdout_tasks(df, target_cols=["y"], random_state=3)
    assert len(plain["extrapolation"][0]) == len(history) - len(target)


def test_real_sets_name_loaders_that_exist_and_known_columns_are_not_scored():
    from latentode import datasets
    from latentode.datasets import REAL_SETS

    for name, spec in REAL_SETS.items():
        assert callable(getattr(datasets, spec.loader)), name
        assert not set(spec.known) & set(spec.targets or ()), name
    assert REAL_SETS["remifentanil"].known == ("rate",)
