"""Known time-varying covariates (``covariate_cols``): inputs of the latent vector field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

import latentode
from latentode import LatentODEForecaster
from latentode.exceptions import LongFrameError, ParameterError


def _infusions(n_series: int, seed: int) -> pd.DataFrame:
    """``dx/dt = -x + rate(t)`` from ``x(0) = 0``; ``rate`` (a known covariate) is two
    infusions of random level, one in ``[0, 2.5]`` and one in ``[3, 5.5]``. Rows: each
    observation of ``x`` (with the rate then) and each change of the rate (``x`` NaN)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        starts = [rng.uniform(0.0, 1.0), rng.uniform(3.0, 4.0)]
        boxes = [(a, a + rng.uniform(0.8, 1.5), rng.uniform(0.0, 2.0)) for a in starts]

        def rate(t, boxes=boxes):
            return sum(level for a, b, level in boxes if a <= t < b)

        grid = np.arange(0.0, 6.0 + 1e-9, 0.002)
        x = np.zeros_like(grid)
        for k in range(1, len(grid)):
            x[k] = x[k - 1] + 0.002 * (-x[k - 1] + rate(grid[k - 1]))
        obs = np.sort(rng.choice(len(grid), 14, replace=False))
        changes = sorted({0.0, *(a for a, _, _ in boxes), *(b for _, b, _ in boxes)})
        sid = f"p{i:02d}"
        for t in changes:
            rows.append((sid, round(t, 3), np.nan, rate(t)))
        for k in obs:
            rows.append((sid, round(grid[k], 3), x[k] + 0.01 * rng.normal(), rate(grid[k])))
    df = pd.DataFrame(rows, columns=["unique_id", "ds", "x", "rate"])
    df = df.groupby(["unique_id", "ds"], as_index=False).first()  # a change at an obs. time
    return df.sort_values(["unique_id", "ds"]).reset_index(drop=True)


_TINY = dict(
    latent_dim=3,
    encoder="gru",
    encoder_hidden_dim=8,
    field_hidden_dim=16,
    observation="gaussian",
    value_dropout=0.0,
    method="euler",
    step_size=0.05,
    batch_size=20,
    max_epochs=80,
    lr=2e-2,
    kl_warmup_epochs=5,
    early_stopping=False,
    random_state=0,
)


def _split(df: pd.DataFrame, at: float = 3.0):
    """History: ``x`` before ``at`` and every rate row; target: ``x`` after ``at``."""
    late = df["ds"] >= at
    history = df.assign(x=df["x"].where(~late))
    target = df[late & df["x"].notna()][["unique_id", "ds", "x"]]
    return history, target


def _mse(est: LatentODEForecaster, history: pd.DataFrame, target: pd.DataFrame) -> float:
    pred = est.predict(history, target[["unique_id", "ds"]])
    return float(np.mean((pred["x"].to_numpy() - target["x"].to_numpy()) ** 2))


def test_known_covariate_that_drives_the_future_is_used():
    train, test = _infusions(40, seed=0), _infusions(20, seed=1)
    history, target = _split(test)
    driven = LatentODEForecaster(**_TINY, covariate_cols=["rate"]).fit(train)
    blind = LatentODEForecaster(**_TINY, feature_cols=["x"]).fit(train)
    # the second infusion starts after the history ends: only its known rate foretells it
    mse_driven, mse_blind = _mse(driven, history, target), _mse(blind, history, target)
    assert mse_driven < 0.5 * mse_blind, (mse_driven, mse_blind)
    assert driven.feature_cols_ == ("x",)
    assert driven.covariates_.covariate_cols == ("rate",)
    # the forecast follows the rate the frame gives for the future
    stopped = history.assign(rate=history["rate"].where(history["ds"] < 3.0, 0.0))
    moved = driven.predict(stopped, target[["unique_id", "ds"]])["x"].to_numpy()
    assert np.mean((moved - target["x"].to_numpy()) ** 2) > 2 * mse_driven


def test_covariates_survive_save_load_polars_and_every_solver(tmp_path):
    df = _infusions(8, seed=2)
    history, target = _split(df)
    at = target[["unique_id", "ds"]]
    for method in ("euler", "rk4", "dopri5"):
        params = {**_TINY, "max_epochs": 2, "method": method, "observation": "anchored"}
        est = LatentODEForecaster(**params, covariate_cols=["rate"]).fit(df)
        before = est.predict(history, at)
        assert list(before.columns) == ["unique_id", "ds", "x"]
        assert np.isfinite(before["x"]).all()
    loaded = latentode.load(est.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(loaded.predict(history, at), before)
    assert loaded.covariates_.covariate_cols == ("rate",)
    polars_out = est.predict(pl.from_pandas(history), pl.from_pandas(at))
    np.testing.assert_allclose(polars_out["x"].to_numpy(), before["x"].to_numpy(), rtol=1e-6)


def test_a_forecast_does_not_depend_on_its_batch_mates():
    # Solvers reorder and drop rows (finished series, one row per query): each row must
    # still read its own series' covariates.
    df = _infusions(12, seed=3)
    history, target = _split(df)
    est = LatentODEForecaster(**{**_TINY, "max_epochs": 2}, covariate_cols=["rate"]).fit(df)
    together = est.predict(history, target[["unique_id", "ds"]])
    one = "p05"
    alone = est.predict(history[history["unique_id"] == one], target[target["unique_id"] == one])
    np.testing.assert_allclose(
        alone["x"].to_numpy(), together[together["unique_id"] == one]["x"].to_numpy(), atol=1e-5
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.drop(columns=["rate"]), "['rate']"),
        (lambda d: d.assign(rate=d["rate"].astype(str)), "rate"),
        (lambda d: d.assign(rate=np.where(d["unique_id"] == "p03", np.nan, d["rate"])), "'p03'"),
        (lambda d: d.assign(rate=np.where(d["ds"] > 1, np.inf, d["rate"])), "rate"),
    ],
)
def test_bad_covariates_are_long_frame_errors_naming_the_problem(change, message):
    df = _infusions(6, seed=4)
    est = LatentODEForecaster(**{**_TINY, "max_epochs": 1}, covariate_cols=["rate"])
    with pytest.raises(LongFrameError) as info:
        est.fit(change(df))
    assert message in str(info.value) and "covariate" in str(info.value)
    fitted = est.fit(df)
    with pytest.raises(LongFrameError) as info:
        fitted.predict(change(df), horizon=1.0)
    assert message in str(info.value)


def test_covariate_cols_that_clash_or_need_the_latent_ode_are_parameter_errors():
    df = _infusions(6, seed=5).assign(age=30.0)
    with pytest.raises(ParameterError, match="also the id, time, feature or static"):
        LatentODEForecaster(**_TINY, covariate_cols=["ds"]).fit(df)
    with pytest.raises(ParameterError, match="also the id, time, feature or static"):
        LatentODEForecaster(**_TINY, static_cols=["age"], covariate_cols=["age"]).fit(df)
    with pytest.raises(ParameterError, match="a list of str or None"):
        LatentODEForecaster(**_TINY, covariate_cols="rate").fit(df)
    with pytest.raises(ParameterError, match="distinct column names"):
        LatentODEForecaster(**_TINY, covariate_cols=["rate", "rate"]).fit(df)
    with pytest.raises(ParameterError, match="model='latent_ode'"):
        LatentODEForecaster(**_TINY, covariate_cols=["rate"], model="ode_rnn").fit(df)
