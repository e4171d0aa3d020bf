"""Model selection by forecast quality: SeriesKFold folds whole series, forecast_scorer scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score

from latentode import LatentODEForecaster
from latentode.baselines import LastValueBaseline, LinearInterpolationBaseline
from latentode.evaluation import (
    SeriesKFold,
    extrapolation_task,
    forecast_scorer,
    interpolation_task,
    score_forecast,
)
from latentode.exceptions import ParameterError


def test_folds_hold_whole_series_and_cover_every_row_once(periodic_df: pd.DataFrame) -> None:
    folds = list(SeriesKFold(3, random_state=4).split(periodic_df))
    assert len(folds) == 3
    tests = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tests), np.arange(len(periodic_df)))
    ids = periodic_df["unique_id"].to_numpy()
    sizes = []
    for train, test in folds:
        assert not set(ids[train]) & set(ids[test])
        assert len(train) + len(test) == len(periodic_df)
        sizes.append(len(set(ids[test])))
    assert max(sizes) - min(sizes) <= 1  # near-equal folds of series
    again = list(SeriesKFold(3, random_state=4).split(pl.from_pandas(periodic_df)))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    other = list(SeriesKFold(3, random_state=5).split(periodic_df))
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(folds, other, strict=True))


def test_unshuffled_folds_follow_first_appearance() -> None:
    df = pd.DataFrame({"unique_id": ["c", "c", "a", "b", "a", "d"], "ds": range(6), "y": 0.0})
    folds = [test for _, test in SeriesKFold(2, shuffle=False).split(df)]
    assert [sorted(set(df["unique_id"].iloc[f])) for f in folds] == [["a", "c"], ["b", "d"]]


def test_bad_splits_name_the_problem(periodic_df: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="at least 30 series; X has 24"):
        list(SeriesKFold(30).split(periodic_df))
    with pytest.raises(ParameterError, match="'series'"):
        list(SeriesKFold(2, id_col="series").split(periodic_df))
    with pytest.raises(ParameterError, match="n_splits"):
        SeriesKFold(1)
    with pytest.raises(ParameterError, match="task"):
        forecast_scorer("forecast")
    with pytest.raises(ParameterError, match="metric"):
        forecast_scorer(metric="rmse")


@pytest.mark.parametrize("task", ["extrapolation", "interpolation"])
def test_the_scorer_is_the_negated_protocol_score(periodic_df: pd.DataFrame, task: str) -> None:
    est = LinearInterpolationBaseline().fit(periodic_df)
    got = forecast_scorer(task, "mse", random_state=3)(est, periodic_df)
    if task == "extrapolation":
        history, target = extrapolation_task(periodic_df, fraction=0.2)
    else:
        history, target = interpolation_task(periodic_df, fraction=0.3, random_state=3)
    std = float(periodic_df["y"].std())
    expected = score_forecast(est, history, target, {"y": std}, n_samples=50)["mse"]
    assert got == pytest.approx(-expected) and got < 0


def test_the_scorer_ranks_linear_interpolation_above_last_value_between_points(
    periodic_df: pd.DataFrame,
) -> None:
    scorer = forecast_scorer("interpolation", "crps")
    cv = SeriesKFold(3)
    linear = cross_val_score(LinearInterpolationBaseline(), periodic_df, cv=cv, scoring=scorer)
    last = cross_val_score(LastValueBaseline(), periodic_df, cv=cv, scoring=scorer)
    assert linear.mean() > last.mean()


def test_grid_search_selects_by_forecast_without_groups(
    periodic_df: pd.DataFrame, fast: dict
) -> None:
    search = GridSearchCV(
        LatentODEForecaster(**{**fast, "max_epochs": 1}),
        {"latent_dim": [2, 4]},
        cv=SeriesKFold(2),
        scoring=forecast_scorer("extrapolation", "mse"),
    )
    search.fit(periodic_df)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and (scores < 0).all()
    assert search.best_params_["latent_dim"] == [2, 4][int(np.argmax(scores))]
    assert search.best_estimator_.latent_dim == search.best_params_["latent_dim"]
