"""NeuralODEDynamics: recovery of known fields, units, simulation, inputs, contract."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import polars as pl
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import latentode
from latentode.datasets import make_linear_spiral, make_lotka_volterra
from latentode.estimators.dynamics import NeuralODEDynamics
from latentode.exceptions import LongFrameError, ParameterError, QueryError, SolverError

torch.set_num_threads(1)

SPIRAL = np.array([[-0.1, 2.0], [-2.0, -0.1]])
#: Cheap settings for tests that check plumbing rather than accuracy.
FAST = {"method": "rk4", "max_epochs": 2, "random_state": 0, "early_stopping": False}


@pytest.fixture(scope="module")
def spiral_200() -> tuple[pd.DataFrame, object]:
    """One noisy spiral, 200 irregular points (30 % of a 667-point grid, 1 % noise)."""
    df, system = make_linear_spiral(n_points=667, random_state=0)
    assert len(df) == 200
    return df, system


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    df, _ = make_linear_spiral(n_series=3, n_points=120, t_max=6.0, random_state=1)
    return df


@pytest.fixture(scope="module")
def fitted_linear(spiral_200) -> NeuralODEDynamics:
    df, _ = spiral_200
    return NeuralODEDynamics(
        field="linear", lr=0.03, max_epochs=30, random_state=0, early_stopping=False
    ).fit(df)


# ---------------------------------------------------------------------------- recovery
def test_recovers_linear_spiral_matrix(fitted_linear):
    """Acceptance: A within 0.05 from 200 irregular, noisy points of one spiral."""
    np.testing.assert_allclose(fitted_linear.coef_, SPIRAL, atol=0.05)
    np.testing.assert_allclose(fitted_linear.intercept_, 0.0, atol=0.05)
    # The field is the same map as coef_ / intercept_.
    x = np.array([[1.0, -0.5], [0.2, 0.3]])
    np.testing.assert_allclose(
        fitted_linear.vector_field(x),
        x @ fitted_linear.coef_.T + fitted_linear.intercept_,
        rtol=1e-5,
        atol=1e-6,
    )


def test_simulate_reproduces_held_out_trajectories(fitted_linear, spiral_200):
    _, system = spiral_200
    rng = np.random.default_rng(5)
    x0 = rng.uniform(-2.0, 2.0, size=(3, 2))  # initial states never seen in training
    t = np.linspace(0.0, 10.0, 101)
    sim = fitted_linear.simulate(x0, t)
    assert list(sim.columns) == ["unique_id", "ds", "x", "y"]
    assert len(sim) == 3 * 101
    got = sim[["x", "y"]].to_numpy().reshape(3, 101, 2)
    true = system.trajectory(x0, t)
    np.testing.assert_allclose(got[:, 0], x0, atol=1e-6)
    assert np.sqrt(((got - true) ** 2).mean()) < 0.05 * true.std()


def test_predict_continues_observed_trajectory(fitted_linear, spiral_200):
    df, system = spiral_200
    history = df[df["ds"] <= 15.0]
    out = fitted_linear.predict(history, horizon=5.0, n_points=20)
    last = history["ds"].iloc[-1]
    np.testing.assert_allclose(out["ds"].to_numpy(), last + 5.0 * np.arange(1, 21) / 20)
    true = system.trajectory(system.default_initial_state, np.r_[0.0, out["ds"].to_numpy()])[1:]
    err = np.abs(out[["x", "y"]].to_numpy() - true).max()
    assert err < 0.05, err


@pytest.mark.slow
def test_mlp_recovers_lotka_volterra_field():
    df, system = make_lotka_volterra(
        n_series=6,
        n_points=150,
        grid_size=500,
        t_max=10.0,
        noise=0.01,
        random_state=0,
        return_system=True,
    )
    est = NeuralODEDynamics(max_time=90.0, random_state=0).fit(df)
    states = df[["prey", "predator"]].to_numpy()
    pred, true = est.vector_field(states), system(states)
    assert np.sqrt(((pred - true) ** 2).sum() / (true**2).sum()) < 0.1


# ---------------------------------------------------------------------------- units
def test_vector_field_is_in_original_units(small):
    """States ×100 + 5 and time ×10: same scaled problem, field scales by 100 / 10."""
    est1 = NeuralODEDynamics(**FAST).fit(small)
    scaled = small.assign(
        ds=small["ds"] * 10.0, x=small["x"] * 100.0 + 5.0, y=small["y"] * 100.0 + 5.0
    )
    est2 = NeuralODEDynamics(**FAST).fit(scaled)
    x = np.array([[0.5, -0.2], [1.0, 1.0], [-1.5, 0.3]])
    np.testing.assert_allclose(
        est2.vector_field(x * 100.0 + 5.0), est1.vector_field(x) * 10.0, rtol=2e-3
    )  # float32 training of two identical scaled problems: equal to round-off


def test_vector_field_matches_simulated_derivative(small):
    est = NeuralODEDynamics(**FAST, rtol=1e-7, atol=1e-9).fit(small)
    x0 = np.array([[0.7, -0.4]])
    h = 1e-3
    sim = est.simulate(x0, np.array([2.0, 2.0 + h]))[["x", "y"]].to_numpy()
    np.testing.assert_allclose((sim[1] - sim[0]) / h, est.vector_field(x0)[0], rtol=2e-2)


def test_datetime_time_unit_sets_derivative_units(small):
    dt = small.assign(ds=pd.Timestamp("2024-01-01") + pd.to_timedelta(small["ds"], unit="D"))
    per_day = NeuralODEDynamics(**FAST, time_unit="D").fit(dt)
    per_hour = NeuralODEDynamics(**FAST, time_unit="h").fit(dt)
    x = np.array([[0.3, 0.1]])
    np.testing.assert_allclose(per_hour.vector_field(x) * 24.0, per_day.vector_field(x), rtol=1e-4)


# ---------------------------------------------------------------------------- API
def test_fit_history_and_fitted_attributes(small):
    est = NeuralODEDynamics(**{**FAST, "early_stopping": True, "validation_fraction": 0.34})
    assert est.fit(small) is est
    assert est.n_epochs_ == 2 and len(est.history_) == 2
    assert {"epoch", "train_loss", "val_loss", "nfe_forward", "nfe_backward", "seconds"} <= set(
        est.history_[0]
    )
    assert est.feature_cols_ == ("x", "y")
    assert est.rate_ > 0


def test_predict_at_keeps_query_order_and_polars(small):
    est = NeuralODEDynamics(**FAST).fit(small)
    at = pd.DataFrame({"unique_id": ["s0002", "s0000", "s0002"], "ds": [7.0, 6.5, 6.2]})
    out = est.predict(small, at=at)
    assert out[["unique_id", "ds"]].equals(at)
    out_pl = est.predict(pl.from_pandas(small), at=pl.from_pandas(at))
    assert isinstance(out_pl, pl.DataFrame)
    np.testing.assert_allclose(out_pl["x"].to_numpy(), out["x"].to_numpy(), rtol=1e-5)
    with pytest.raises(QueryError, match="either 'at' or 'horizon'"):
        est.predict(small, at=at, horizon=1.0)


def test_diverging_dynamics_are_refused_naming_the_series(small):
    # A field that overflows (weights at 1e20) must not come back as inf / NaN forecasts.
    est = NeuralODEDynamics(**FAST).fit(small)
    with torch.no_grad():
        for p in est.module_.field.parameters():
            p.fill_(1e20)
    with pytest.raises(SolverError, match="diverge from the state of series 's0000'"):
        est.predict(small, horizon=1.0, n_points=2)
    with pytest.raises(SolverError, match="simulate: the learned dynamics diverge"):
        est.simulate(np.ones((2, 2)), times=[0.0, 1.0])


def test_predict_invariant_to_series_order(small):
    est = NeuralODEDynamics(**FAST).fit(small)
    a = est.predict(small, horizon=1.0, n_points=3).sort_values(["unique_id", "ds"])
    rev = small.iloc[::-1].reset_index(drop=True)
    b = est.predict(rev, horizon=1.0, n_points=3).sort_values(["unique_id", "ds"])
    np.testing.assert_allclose(a[["x", "y"]].to_numpy(), b[["x", "y"]].to_numpy(), atol=1e-4)


def test_score_prefers_trained_model(spiral_200, fitted_linear):
    df, _ = spiral_200
    untrained = NeuralODEDynamics(
        field="linear", max_epochs=1, early_stopping=False, random_state=0
    ).fit(df)
    good = fitted_linear.score(df)
    assert good <= 0.0
    assert good > -0.05  # MSE in units of the feature std, over 8 turns of the spiral
    assert good > untrained.score(df)


def test_augmented_and_time_dependent_fields(small):
    est = NeuralODEDynamics(**FAST, augment_dim=2, time_dependent=True).fit(small)
    assert est.vector_field([[0.1, 0.2]], t=1.0).shape == (1, 2)
    sim = est.simulate(np.zeros((2, 2)), np.linspace(0, 1, 5), ids=["a", "b"])
    assert sim["unique_id"].tolist() == ["a"] * 5 + ["b"] * 5
    with pytest.raises(QueryError, match="time_dependent=True"):
        est.vector_field([[0.1, 0.2]])


def test_simulate_accepts_frames(small):
    est = NeuralODEDynamics(**FAST).fit(small)
    init = pl.DataFrame({"unique_id": ["p", "q"], "x": [0.1, 0.2], "y": [0.0, -0.1]})
    out = est.simulate(init, [0.0, 0.5, 1.0])
    assert isinstance(out, pl.DataFrame)
    assert out["unique_id"].to_list() == ["p"] * 3 + ["q"] * 3


def test_checkpoint_and_resume(small, tmp_path):
    params = {**FAST, "checkpoint_dir": str(tmp_path)}
    NeuralODEDynamics(**params).fit(small)
    est = NeuralODEDynamics(**{**params, "max_epochs": 4}).fit(small, resume=True)
    assert est.n_epochs_ == 4
    assert [h["epoch"] for h in est.history_] == [1, 2, 3, 4]


def test_pickle_clone_and_save_load(small, tmp_path):
    est = NeuralODEDynamics(**FAST, field="linear").fit(small)
    x = np.array([[0.4, -0.3]])
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(again.vector_field(x), est.vector_field(x))
    est.save(tmp_path / "model")
    loaded = latentode.load(tmp_path / "model")
    assert isinstance(loaded, NeuralODEDynamics)
    np.testing.assert_allclose(loaded.coef_, est.coef_)
    a = est.predict(small, horizon=1.0, n_points=2)
    pd.testing.assert_frame_equal(loaded.predict(small, horizon=1.0, n_points=2), a)
    fresh = clone(est)
    assert fresh.get_params() == est.get_params()
    assert not hasattr(fresh, "module_")


# ---------------------------------------------------------------------------- errors
def test_one_point_per_trajectory_is_an_error():
    df = pd.DataFrame(
        {
            "unique_id": ["a", "b", "c"],
            "ds": [0.0, 1.0, 2.0],
            "x": [1.0, 2.0, 3.0],
            "y": [0.0, 0.5, 1.0],
        }
    )
    with pytest.raises(LongFrameError, match="at least 2 observation times") as info:
        NeuralODEDynamics(**FAST).fit(df)
    assert "'a'" in str(info.value) and "3 trajectory" in str(info.value)


def test_single_point_trajectories_are_dropped_with_a_warning(small):
    extra = pd.DataFrame({"unique_id": ["lonely"], "ds": [0.0], "x": [1.0], "y": [1.0]})
    with pytest.warns(UserWarning, match="single observation time.*'lonely'"):
        est = NeuralODEDynamics(**FAST).fit(pd.concat([small, extra]))
    assert est.n_epochs_ == 2


def test_non_finite_states_are_errors(small):
    bad = small.copy()
    bad.loc[3, "x"] = np.inf
    with pytest.raises(LongFrameError, match="infinite"):
        NeuralODEDynamics(**FAST).fit(bad)
    est = NeuralODEDynamics(**FAST).fit(small)
    with pytest.raises(QueryError, match=r"Expected finite states; got 1 row\(s\)"):
        est.vector_field([[0.0, 0.0], [np.nan, 1.0]])
    with pytest.raises(QueryError, match="Expected finite states"):
        est.simulate([[np.inf, 0.0]], [0.0, 1.0])
    with pytest.raises(QueryError, match=r"shape \(n_states, 2\)"):
        est.vector_field(np.zeros((4, 3)))
    with pytest.raises(QueryError, match="strictly increasing"):
        est.simulate([[0.0, 0.0]], [0.0, 2.0, 1.0])


def test_invalid_parameter_message():
    with pytest.raises(ParameterError) as info:
        NeuralODEDynamics(window_size=1).fit(pd.DataFrame())
    assert str(info.value) == (
        "The 'window_size' parameter of NeuralODEDynamics must be an int in the range "
        "[2, inf). Got 1 instead."
    )


def test_not_fitted_and_linear_only_attributes(small):
    with pytest.raises(NotFittedError):
        NeuralODEDynamics().vector_field([[0.0, 0.0]])
    est = NeuralODEDynamics(**FAST).fit(small)
    with pytest.raises(AttributeError, match="field='linear'"):
        _ = est.coef_


@pytest.mark.parametrize("initial_state", ["fit", "observed"])
def test_learned_shooting_nodes_and_start_strategies(small, initial_state):
    params = {**FAST, "max_epochs": 3}
    est = NeuralODEDynamics(**params, learn_initial_states=True, initial_state=initial_state).fit(
        small
    )
    assert np.isfinite([h["train_loss"] for h in est.history_]).all()
    assert est.predict(small, horizon=0.5, n_points=2)[["x", "y"]].notna().all().all()
    assert np.isfinite(est.score(small))
