"""scikit-learn contract of LatentODEForecaster."""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, GroupKFold

from latentode import LatentODEForecaster, load
from latentode.exceptions import ModelFileError, ParameterError


def test_init_only_stores_parameters():
    sig = inspect.signature(LatentODEForecaster.__init__)
    assert all(p.kind is p.KEYWORD_ONLY for n, p in sig.parameters.items() if n != "self")
    est = LatentODEForecaster(latent_dim=-3, encoder="nope")  # checked in fit, not here
    assert est.get_params()["latent_dim"] == -3


def test_clone_and_set_params_round_trip(fast):
    est = LatentODEForecaster(**fast)
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    twin.set_params(latent_dim=6)
    assert twin.latent_dim == 6 and est.latent_dim == fast["latent_dim"]


def test_not_fitted_error_before_fit(periodic_df, fast):
    est = LatentODEForecaster(**fast)
    for call in (
        lambda: est.predict(periodic_df, horizon=1.0),
        lambda: est.score(periodic_df),
        lambda: est.transform(periodic_df),
        lambda: est.save("unused"),
    ):
        with pytest.raises(NotFittedError):
            call()


def test_fit_returns_self_and_sets_fitted_attributes(periodic_df, fast):
    est = LatentODEForecaster(**fast)
    assert est.fit(periodic_df) is est
    assert est.feature_cols_ == ("y",)
    assert est.n_epochs_ == 2 and len(est.history_) == 2
    expected = {
        "epoch",
        "train_loss",
        "train_mse",
        "kl",
        "nfe_forward",
        "nfe_backward",
        "val_loss",
        "val_mse",
        "seconds",
    }
    assert expected <= set(est.history_[0])
    assert est.history_[0]["nfe_forward"] > 0
    assert est.history_[0]["nfe_encoder"] > 0  # the ODE-RNN encoder's, reported apart


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        (
            "latent_dim",
            0,
            r"The 'latent_dim' parameter of LatentODEForecaster must be an int in "
            r"the range \[1, inf\). Got 0 instead.",
        ),
        ("encoder", "lstm", r"The 'encoder' parameter of LatentODEForecaster must be a str among"),
        ("lr", -1.0, r"The 'lr' parameter .* must be a float in the range \(0, inf\). Got -1.0"),
        ("method", "rk45", r"The 'method' parameter"),
        ("validation_fraction", 1.5, r"The 'validation_fraction' parameter"),
    ],
)
def test_invalid_parameters_raise_with_the_documented_message(
    periodic_df, fast, param, value, message
):
    with pytest.raises(ParameterError, match=message):
        LatentODEForecaster(**{**fast, param: value}).fit(periodic_df)


def test_pickle_round_trip_predicts_identically(fitted, periodic_df):
    twin = pickle.loads(pickle.dumps(fitted))
    a = fitted.predict(periodic_df, horizon=1.0, n_points=3)
    b = twin.predict(periodic_df, horizon=1.0, n_points=3)
    np.testing.assert_array_equal(a["y"].to_numpy(), b["y"].to_numpy())


def test_save_load_round_trip_and_atomic_replace(fitted, periodic_df, tmp_path):
    path = tmp_path / "model"
    fitted.save(path)
    loaded = load(path)
    assert type(loaded) is LatentODEForecaster
    assert loaded.get_params() == fitted.get_params()
    a = fitted.predict_quantiles(periodic_df, horizon=1.0, n_points=3)
    b = loaded.predict_quantiles(periodic_df, horizon=1.0, n_points=3)
    np.testing.assert_allclose(a["y_q0.5"].to_numpy(), b["y_q0.5"].to_numpy(), rtol=1e-6)
    # a failed save leaves the old model untouched
    before = (path / "weights.pt").read_bytes()
    fitted.history_ = [*fitted.history_, {"bad": object()}]  # not JSON-serialisable
    try:
        with pytest.raises(TypeError):
            fitted.save(path)
    finally:
        fitted.history_ = fitted.history_[:-1]
    assert (path / "weights.pt").read_bytes() == before
    assert load(path).get_params() == fitted.get_params()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_save_refuses_to_overwrite_foreign_directory(fitted, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ModelFileError, match="Refusing to overwrite"):
        fitted.save(tmp_path)


def test_load_rejects_missing_or_corrupt_model(tmp_path, fitted):
    with pytest.raises(ModelFileError, match=r"latentode\.json"):
        load(tmp_path)
    fitted.save(tmp_path / "m")
    (tmp_path / "m" / "weights.pt").write_bytes(b"truncated")
    with pytest.raises(ModelFileError, match="Cannot read weights"):
        load(tmp_path / "m")


def test_grid_search_with_group_kfold_by_series(periodic_df, fast):
    search = GridSearchCV(
        LatentODEForecaster(**{**fast, "max_epochs": 1}),
        {"latent_dim": [2, 4]},
        cv=GroupKFold(n_splits=2),
    )
    search.fit(periodic_df, groups=periodic_df["unique_id"])
    assert search.best_params_["latent_dim"] in (2, 4)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_save_with_callbacks_saves_the_model_without_them(periodic_df, fast, tmp_path):
    from latentode.training import EpochLogger

    est = LatentODEForecaster(**{**fast, "max_epochs": 1, "callbacks": [EpochLogger()]})
    est.fit(periodic_df).save(tmp_path / "m")
    assert load(tmp_path / "m").callbacks is None


def test_transform_as_a_frame_names_the_series(fitted, periodic_df):
    import polars as pl

    shuffled = periodic_df.sample(frac=1.0, random_state=3)
    z = fitted.transform(shuffled)
    frame = fitted.transform(shuffled, as_frame=True)
    names = list(fitted.get_feature_names_out())
    assert names == [f"z0_{k}" for k in range(fitted.latent_dim)]
    assert list(frame.columns) == ["unique_id", *names]
    assert list(frame["unique_id"]) == list(pd.unique(shuffled["unique_id"]))
    np.testing.assert_array_equal(frame[names].to_numpy(), z)
    by_id = frame.set_index("unique_id")
    alone = fitted.transform(periodic_df[periodic_df["unique_id"] == "s0003"])
    np.testing.assert_allclose(by_id.loc["s0003", names].to_numpy(float), alone[0], rtol=1e-4)
    polars_frame = fitted.transform(pl.from_pandas(shuffled), as_frame=True)
    assert isinstance(polars_frame, pl.DataFrame) and polars_frame.columns == frame.columns.tolist()
