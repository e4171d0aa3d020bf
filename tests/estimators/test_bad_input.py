"""Bad input gets a typed error that names the problem (issue 13's list), never garbage."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from latentode import FFJORDDensity, LatentODEForecaster, NeuralODEDynamics
from latentode.baselines import LastValueBaseline
from latentode.datasets import make_periodic
from latentode.exceptions import LongFrameError, ParameterError, QueryError

TINY = dict(latent_dim=3, encoder_hidden_dim=6, field_hidden_dim=8, max_epochs=1, random_state=0)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_periodic(n_series=10, n_points=10, random_state=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LatentODEForecaster(**TINY),
        lambda: NeuralODEDynamics(max_epochs=1, random_state=0),
        lambda: LastValueBaseline(),
    ],
    ids=["forecaster", "dynamics", "baseline"],
)
def test_a_never_observed_feature_column_is_refused_by_name(make, frame):
    with pytest.raises(LongFrameError, match=r"\['ghost'\].*never observed"):
        make().fit(frame.assign(ghost=np.nan))


def test_callback_items_are_checked(frame):
    with pytest.raises(ParameterError, match=r"callbacks\[1\].*Got object"):
        LatentODEForecaster(**TINY, callbacks=[_Noop(), object()]).fit(frame)
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(ParameterError, match=r"callbacks\[0\]"):
        FFJORDDensity(max_epochs=1, hidden_dims=(4,), callbacks=["x"]).fit(X)


def _noop_class():
    from latentode.training import Callback

    class Noop(Callback):
        pass

    return Noop


_Noop = _noop_class()


def test_ode_rnn_on_one_observation_series_says_why(frame):
    single = frame.groupby("unique_id").head(1)
    with pytest.raises(LongFrameError, match="at least two observation times"):
        LatentODEForecaster(model="ode_rnn", **TINY).fit(single)
    # Mixed lengths train normally: a batch with nothing to predict has loss 0, not 0/0.
    first = frame["unique_id"].iloc[0]
    mixed = pd.concat([single[single["unique_id"] != first], frame[frame["unique_id"] == first]])
    est = LatentODEForecaster(model="ode_rnn", **TINY, batch_size=2).fit(mixed)
    assert all(np.isfinite(h["train_loss"]) for h in est.history_)


def test_ffjord_scores_far_rows_minus_inf_and_leaves_the_others_alone(caplog):
    X = np.random.default_rng(0).normal(size=(200, 2))
    est = FFJORDDensity(max_epochs=1, hidden_dims=(8,), random_state=0).fit(X)
    near = np.array([[0.0, 0.0], [1.0, 1.0]])
    with caplog.at_level(logging.WARNING, logger="latentode"):
        scores = est.score_samples(np.vstack([[1e38, 0.0], near, [300.0, 0.0]]))
    assert scores[0] == -np.inf and "underflowed" in caplog.text
    np.testing.assert_allclose(scores[1:3], est.score_samples(near), rtol=1e-6)
    assert np.isfinite(scores[3]) and scores[3] < scores[1:3].min() - 100


def test_output_columns_that_would_collide_are_refused(frame):
    clash = frame.assign(y_lower=frame["y"] * 2.0)
    est = LatentODEForecaster(**TINY).fit(clash)
    with pytest.raises(QueryError, match="'y_lower' would hold two different things"):
        est.predict_interval(clash, horizon=1.0, n_points=2)
    with pytest.raises(QueryError, match="'y_lower' would hold two different things"):
        est.predict_distribution(clash, horizon=1.0, n_points=2, coverage=0.8)
    baseline = LastValueBaseline().fit(clash)
    with pytest.raises(QueryError, match="'y_lower' would hold two different things"):
        baseline.predict_interval(clash, horizon=1.0)
    # Without an interval there is nothing to collide.
    assert list(est.predict(clash, horizon=1.0, n_points=2).columns)[2:] == ["y", "y_lower"]


def test_coverage_levels_must_be_distinct_numbers_in_the_unit_interval(frame):
    est = LatentODEForecaster(**TINY).fit(frame)
    with pytest.raises(QueryError, match="lists a level twice"):
        est.predict_interval(frame, horizon=1.0, n_points=2, coverage=[0.8, 0.80000001])
    for bad in ([0.8, 1.5], [], ["a"], [[0.8]], 0.0):
        with pytest.raises(QueryError, match="'coverage' must hold numbers in"):
            est.predict_interval(frame, horizon=1.0, n_points=2, coverage=bad)
