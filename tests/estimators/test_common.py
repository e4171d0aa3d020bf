"""One contract suite run on every latentode estimator, through the public API only.

Each estimator contributes a :class:`Case`: a tiny configuration, its data and the calls
whose outputs the checks compare (predictions, quantiles, scores). The checks are the
scikit-learn contract (clone, get/set_params, not-fitted error, fit returns self, fitted
attributes), persistence (pickle, ``save`` / ``latentode.load``), refitting, seeding,
non-mutation of inputs, batch invariance and typed input errors.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import polars.testing
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import latentode
from latentode import FFJORDDensity, LatentODEForecaster, NeuralODEDynamics
from latentode.datasets import make_linear_spiral, make_periodic
from latentode.exceptions import LongFrameError
from latentode.training import EarlyStopping

Outputs = dict[str, np.ndarray]


# ------------------------------------------------------------------------------ cases
def _forecaster_data() -> pd.DataFrame:
    return make_periodic(n_series=8, n_points=12, observed_fraction=0.6, random_state=1)


def _covariate_data() -> pd.DataFrame:
    """The forecaster's data with a static covariate column (one value per series)."""
    df = _forecaster_data()
    codes = pd.factorize(df["unique_id"])[0]
    return df.assign(level=np.linspace(-1.0, 1.0, codes.max() + 1)[codes])


def _dynamics_data() -> pd.DataFrame:
    df, _ = make_linear_spiral(n_series=4, n_points=40, t_max=4.0, random_state=1)
    return df


def _density_data() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.normal(size=(64, 2)) * np.array([3.0, 0.5]) + np.array([10.0, -4.0])


def _forecaster_outputs(est: LatentODEForecaster, X: Any) -> Outputs:
    mean = est.predict(X, horizon=1.0, n_points=3)
    band = est.predict_interval(X, horizon=1.0, n_points=3, coverage=0.8)
    return {
        "predict": mean["y"].to_numpy(),
        "lower": band["y_lower"].to_numpy(),
        "upper": band["y_upper"].to_numpy(),
        "score_samples": est.score_samples(X),
        "score": np.array([est.score(X)]),
    }


def _dynamics_outputs(est: NeuralODEDynamics, X: Any) -> Outputs:
    out = est.predict(X, horizon=1.0, n_points=3)
    return {
        "predict": out[["x", "y"]].to_numpy(),
        "score": np.array([est.score(X)]),
        "simulate": est.simulate(np.array([[0.5, -0.5]]), [0.0, 0.5])[["x", "y"]].to_numpy(),
    }


def _density_outputs(est: FFJORDDensity, X: Any) -> Outputs:
    return {
        "score_samples": est.score_samples(X),
        "score": np.array([est.score(X)]),
        "sample": est.sample(5, random_state=0),
    }


def _long_frame_per_series(est: Any, X: pd.DataFrame) -> dict[Any, np.ndarray]:
    """Each series' forecast (and, for the forecaster, its score) keyed by id."""
    pred = est.predict(X, horizon=1.0, n_points=3)
    out = {
        sid: group[list(est.feature_cols_)].to_numpy()
        for sid, group in pred.groupby(est.id_col, sort=False)
    }
    if hasattr(est, "score_samples"):
        ids = pd.unique(X[est.id_col])
        for sid, score in zip(ids, est.score_samples(X)):
            out[sid] = np.append(out[sid].ravel(), score)
    return out


def _shuffled_and_duplicated(X: pd.DataFrame, id_col: str) -> tuple[pd.DataFrame, dict]:
    """Series in reverse order, then copies of every series under new ids."""
    ids = list(pd.unique(X[id_col]))
    reversed_ = pd.concat([X[X[id_col] == sid] for sid in reversed(ids)])
    copies = X.assign(**{id_col: "copy-" + X[id_col].astype(str)})
    both = pd.concat([copies.iloc[::-1], reversed_], ignore_index=True)
    return both, {f"copy-{sid}": sid for sid in ids}


@dataclasses.dataclass(frozen=True)
class Case:
    """A cheap configuration of one estimator and how to exercise it."""

    cls: type
    params: dict[str, Any]
    data: Callable[[], Any]
    outputs: Callable[[Any, Any], Outputs]
    unfitted_calls: tuple[Callable[[Any, Any], Any], ...]
    long_frame: bool
    label: str = ""

    def make(self, **overrides: Any) -> Any:
        return self.cls(**{**self.params, **overrides})

    @property
    def id(self) -> str:
        return self.cls.__name__ + (f"-{self.label}" if self.label else "")


CASES = [
    Case(
        LatentODEForecaster,
        dict(
            latent_dim=2,
            encoder_hidden_dim=8,
            field_hidden_dim=8,
            field_layers=1,
            method="euler",  # fixed steps: a series' output does not depend on its batch
            step_size=0.25,
            max_epochs=2,
            batch_size=16,
            n_samples=4,
            n_iwae_samples=4,
            validation_fraction=0.25,
            random_state=0,
        ),
        _forecaster_data,
        _forecaster_outputs,
        (
            lambda est, X: est.predict(X, horizon=1.0),
            lambda est, X: est.predict_quantiles(X, horizon=1.0),
            lambda est, X: est.predict_interval(X, horizon=1.0),
            lambda est, X: est.sample(X, horizon=1.0, n_samples=2),
            lambda est, X: est.score_samples(X),
            lambda est, X: est.score(X),
            lambda est, X: est.transform(X),
            lambda est, X: est.save("unused-model-dir"),
        ),
        long_frame=True,
    ),
    Case(
        LatentODEForecaster,
        dict(
            latent_dim=2,
            encoder_hidden_dim=8,
            field_hidden_dim=8,
            field_layers=1,
            method="euler",  # fixed steps: a series' output does not depend on its batch
            step_size=0.25,
            max_epochs=2,
            batch_size=16,
            n_samples=4,
            n_iwae_samples=4,
            validation_fraction=0.25,
            random_state=0,
            observation="anchored",
            encoder="grud",
            static_cols=["level"],
        ),
        _covariate_data,
        _forecaster_outputs,
        (
            lambda est, X: est.predict(X, horizon=1.0),
            lambda est, X: est.predict_quantiles(X, horizon=1.0),
            lambda est, X: est.predict_interval(X, horizon=1.0),
            lambda est, X: est.sample(X, horizon=1.0, n_samples=2),
            lambda est, X: est.score_samples(X),
            lambda est, X: est.score(X),
            lambda est, X: est.transform(X),
            lambda est, X: est.save("unused-model-dir"),
        ),
        long_frame=True,
        label="anchored-grud-static",
    ),
    Case(
        NeuralODEDynamics,
        dict(
            hidden_dim=8,
            method="rk4",
            max_epochs=2,
            validation_fraction=0.25,
            random_state=0,
        ),
        _dynamics_data,
        _dynamics_outputs,
        (
            lambda est, X: est.predict(X, horizon=1.0),
            lambda est, X: est.score(X),
            lambda est, X: est.simulate([[0.0, 1.0]], [0.0, 1.0]),
            lambda est, X: est.vector_field([[0.0, 1.0]]),
            lambda est, X: est.save("unused-model-dir"),
        ),
        long_frame=True,
    ),
    Case(
        FFJORDDensity,
        dict(
            hidden_dims=(8,),
            method="rk4",
            eval_method="rk4",  # fixed steps: a row's score does not depend on its batch
            n_substeps=2,
            max_epochs=2,
            batch_size=32,
            validation_fraction=0.25,
            random_state=0,
        ),
        _density_data,
        _density_outputs,
        (
            lambda est, X: est.score_samples(X),
            lambda est, X: est.score(X),
            lambda est, X: est.sample(3),
            lambda est, X: est.save("unused-model-dir"),
        ),
        long_frame=False,
    ),
]
LONG_FRAME_CASES = [c for c in CASES if c.long_frame]


def _ids(case: Case) -> str:
    return case.id


@pytest.fixture(params=CASES, ids=_ids)
def case(request) -> Case:
    return request.param


@pytest.fixture(params=LONG_FRAME_CASES, ids=_ids)
def long_case(request) -> Case:
    return request.param


_FITTED: dict[str, tuple[Any, Any]] = {}


def _fitted(case: Case) -> tuple[Any, Any]:
    """One fitted estimator per case for the read-only checks (fitted once per session)."""
    if case.id not in _FITTED:
        X = case.data()
        _FITTED[case.id] = (case.make().fit(X), X)
    return _FITTED[case.id]


def assert_outputs_equal(a: Outputs, b: Outputs, *, rtol: float = 0.0, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=rtol, atol=atol, err_msg=key)


def _val_losses(est: Any) -> list[float]:
    return [h["val_loss"] for h in est.history_]


# ------------------------------------------------------------------------------ params
def test_clone_gives_equal_params(case):
    est = case.make()
    twin = clone(est)
    assert twin is not est
    assert twin.get_params() == est.get_params()


def test_set_params_round_trips(case):
    est = case.make()
    params = est.get_params()
    assert est.set_params(**params) is est
    assert est.get_params() == params
    est.set_params(max_epochs=7, random_state=3)
    assert est.get_params()["max_epochs"] == 7 and est.random_state == 3
    assert clone(est).get_params() == est.get_params()


def test_set_params_rejects_unknown_parameter(case):
    with pytest.raises(ValueError, match="no_such_param"):
        case.make().set_params(no_such_param=1)


def test_methods_raise_not_fitted_error_before_fit(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # save("unused-model-dir") must not write anything
    est, X = case.make(), case.data()
    for call in case.unfitted_calls:
        with pytest.raises(NotFittedError):
            call(est, X)
    assert list(tmp_path.iterdir()) == []


def test_fit_returns_self_sets_trailing_underscore_attributes_and_keeps_params(case):
    est, X = case.make(), case.data()
    before = set(vars(est))
    params = copy.deepcopy(est.get_params())
    assert est.fit(X) is est
    added = set(vars(est)) - before
    assert added, "fit set no fitted attribute"
    public = {name for name in added if not name.startswith("_")}
    assert all(name.endswith("_") for name in public), sorted(public)
    assert {"module_", "history_", "n_epochs_", "best_epoch_"} <= public
    assert est.get_params() == params  # fit does not overwrite hyper-parameters


# ------------------------------------------------------------------------------ persistence
def test_pickle_round_trip_gives_identical_outputs(case):
    est, X = _fitted(case)
    twin = pickle.loads(pickle.dumps(est))
    assert type(twin) is type(est)
    assert_outputs_equal(case.outputs(twin, X), case.outputs(est, X))


def test_save_load_round_trip_gives_identical_outputs(case, tmp_path):
    est, X = _fitted(case)
    path = est.save(tmp_path / "model")
    loaded = latentode.load(path)
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    assert loaded.n_epochs_ == est.n_epochs_ and loaded.best_epoch_ == est.best_epoch_
    assert_outputs_equal(case.outputs(loaded, X), case.outputs(est, X))


# ------------------------------------------------------------------------------ refit
def _check_epochs_consistent(est: Any) -> None:
    assert est.n_epochs_ == len(est.history_)
    assert [h["epoch"] for h in est.history_] == list(range(1, est.n_epochs_ + 1))
    assert 1 <= est.best_epoch_ <= est.n_epochs_
    # Early stopping keeps the epoch of the lowest validation loss (the first one on ties).
    assert est.best_epoch_ == int(np.argmin(_val_losses(est))) + 1


def test_refit_with_own_early_stopping_is_a_fresh_fit(case):
    X = case.data()
    params = dict(early_stopping=True, patience=1, max_epochs=4)
    est = case.make(**params).fit(X)
    est.fit(X)
    _check_epochs_consistent(est)
    reference = case.make(**params).fit(X)
    assert est.n_epochs_ == reference.n_epochs_
    assert est.best_epoch_ == reference.best_epoch_
    assert _val_losses(est) == _val_losses(reference)
    assert_outputs_equal(case.outputs(est, X), case.outputs(reference, X), rtol=1e-6)


def test_refit_with_the_same_callback_instances_is_a_fresh_fit(case):
    X = case.data()
    params = dict(early_stopping=True, patience=10, max_epochs=4)
    est = case.make(**params, callbacks=[EarlyStopping("val_loss", patience=1)])
    est.fit(X)
    est.fit(X)  # the same EarlyStopping instance, which saw the first fit
    _check_epochs_consistent(est)
    reference = case.make(**params, callbacks=[EarlyStopping("val_loss", patience=1)]).fit(X)
    assert est.n_epochs_ == reference.n_epochs_
    assert est.best_epoch_ == reference.best_epoch_
    assert _val_losses(est) == _val_losses(reference)
    assert_outputs_equal(case.outputs(est, X), case.outputs(reference, X), rtol=1e-6)


# ------------------------------------------------------------------------------ seeding
@pytest.mark.parametrize(
    "make_state",
    [
        pytest.param(lambda: 0, id="int"),
        pytest.param(lambda: np.random.RandomState(0), id="RandomState"),
        pytest.param(lambda: np.random.default_rng(0), id="Generator"),
    ],
)
def test_random_state_is_accepted_and_reproducible(case, make_state):
    X = case.data()
    a = case.make(random_state=make_state()).fit(X)
    b = case.make(random_state=make_state()).fit(X)
    out_a = case.outputs(a, X)
    for value in out_a.values():
        assert np.isfinite(value).all()
    assert_outputs_equal(out_a, case.outputs(b, X), rtol=1e-6)


def test_random_state_none_is_accepted(case):
    X = case.data()
    out = case.outputs(case.make(random_state=None).fit(X), X)
    for value in out.values():
        assert np.isfinite(value).all()


def test_fit_does_not_reseed_the_global_torch_rng(case):
    X = case.data()
    est = case.make()
    torch.manual_seed(1234)
    before = torch.random.get_rng_state()
    est.fit(X)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_inference_does_not_touch_the_global_torch_rng(case):
    est, X = _fitted(case)
    torch.manual_seed(1234)
    before = torch.random.get_rng_state()
    case.outputs(est, X)
    assert torch.equal(torch.random.get_rng_state(), before)


# ------------------------------------------------------------------------------ inputs
def test_fit_and_inference_do_not_mutate_pandas_input(case):
    X = case.data()
    frame = X if case.long_frame else pd.DataFrame(X, columns=["a", "b"])
    snapshot = frame.copy(deep=True)
    est = case.make().fit(frame)
    pd.testing.assert_frame_equal(frame, snapshot)
    case.outputs(est, frame)
    pd.testing.assert_frame_equal(frame, snapshot)


def test_fit_and_inference_do_not_mutate_numpy_input():
    case = next(c for c in CASES if not c.long_frame)
    X = case.data()
    snapshot = X.copy()
    est = case.make().fit(X)
    case.outputs(est, X)
    np.testing.assert_array_equal(X, snapshot)
    assert X.flags.writeable


def test_fit_and_inference_do_not_mutate_polars_input(long_case):
    frame = pl.from_pandas(long_case.data())
    snapshot = frame.clone()
    est = long_case.make().fit(frame)
    polars.testing.assert_frame_equal(frame, snapshot)
    out = long_case.outputs(est, frame)
    polars.testing.assert_frame_equal(frame, snapshot)
    # The same model answers a polars frame as it answers the pandas one.
    assert_outputs_equal(out, long_case.outputs(est, frame.to_pandas()), rtol=1e-12)


# ------------------------------------------------------------------------------ batches
def test_per_series_outputs_do_not_depend_on_batch_mates_or_order(long_case):
    est, X = _fitted(long_case)
    alone = _long_frame_per_series(est, X)
    both, copies = _shuffled_and_duplicated(X, est.id_col)
    mixed = _long_frame_per_series(est, both)
    assert set(mixed) == set(alone) | set(copies)
    # Float32 rounding, not logic: BLAS picks its kernel by a batch's row count, so a
    # series' products can round differently among other batch-mates (the dynamics
    # model's rk4 forecast moved by 1.4e-6 on a 2026 CPU). A shared adaptive step size,
    # the dependence this guards against, moved forecasts by 1e-2.
    for sid, expected in alone.items():
        np.testing.assert_allclose(mixed[sid], expected, rtol=1e-5, atol=1e-5, err_msg=sid)
    for copy_id, sid in copies.items():
        np.testing.assert_allclose(mixed[copy_id], alone[sid], rtol=1e-5, atol=1e-5)


def test_one_series_alone_scores_as_in_a_batch(long_case):
    est, X = _fitted(long_case)
    first = X[est.id_col].iloc[0]
    alone = _long_frame_per_series(est, X[X[est.id_col] == first])
    np.testing.assert_allclose(
        alone[first], _long_frame_per_series(est, X)[first], rtol=1e-6, atol=1e-6
    )


def test_density_row_scores_do_not_depend_on_batch_mates_or_order():
    case = next(c for c in CASES if not c.long_frame)
    est, X = _fitted(case)
    together = est.score_samples(X)
    alone = np.array([est.score_samples(X[i : i + 1])[0] for i in range(5)])
    np.testing.assert_allclose(alone, together[:5], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(est.score_samples(X[::-1])[::-1], together, rtol=1e-6, atol=1e-6)
    doubled = est.score_samples(np.concatenate([X[:7], X]))
    np.testing.assert_allclose(doubled[7:], together, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("role", ["id", "time"])
def test_missing_id_or_time_column_is_a_long_frame_error_naming_it(long_case, role):
    X = long_case.data()
    est, _ = _fitted(long_case)
    column = est.id_col if role == "id" else est.time_col
    message = f"The {role} column '{column}' is missing"
    with pytest.raises(LongFrameError, match=message):
        long_case.make().fit(X.drop(columns=column))
    with pytest.raises(LongFrameError, match=message):
        est.predict(X.drop(columns=column), horizon=1.0)
    with pytest.raises(LongFrameError, match=message):
        est.predict(pl.from_pandas(X).drop(column), horizon=1.0)


def test_non_numeric_feature_is_a_long_frame_error_naming_it(long_case):
    X = long_case.data()
    est, _ = _fitted(long_case)
    name = est.feature_cols_[-1]
    bad = X.assign(**{name: X[name].astype(str)})
    with pytest.raises(LongFrameError, match=f"Feature column '{name}' must be numeric"):
        long_case.make().fit(bad)
    with pytest.raises(LongFrameError, match=f"Feature column '{name}' must be numeric"):
        est.predict(bad, horizon=1.0)


def test_missing_feature_column_at_predict_is_a_long_frame_error_naming_it(long_case):
    est, X = _fitted(long_case)
    name = est.feature_cols_[-1]
    with pytest.raises(LongFrameError, match=rf"Feature column\(s\) \['{name}'\] seen in fit"):
        est.predict(X.drop(columns=name), horizon=1.0)


def test_density_wrong_number_of_features_is_a_value_error_with_the_counts():
    case = next(c for c in CASES if not c.long_frame)
    est, X = _fitted(case)
    with pytest.raises(ValueError, match="X has 3 features, but FFJORDDensity is expecting 2"):
        est.score_samples(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="X has 1 features, but FFJORDDensity is expecting 2"):
        est.score_samples(X[:, :1])


def test_density_non_numeric_feature_is_a_value_error():
    case = next(c for c in CASES if not c.long_frame)
    frame = pd.DataFrame(case.data(), columns=["a", "b"]).assign(b=lambda f: f["b"].astype(str))
    frame.loc[0, "b"] = "high"
    with pytest.raises(ValueError):
        case.make().fit(frame)
