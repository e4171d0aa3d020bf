from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import expm

from latentode.datasets import (
    DynamicalSystem,
    make_damped_pendulum,
    make_linear_spiral,
    make_lorenz,
    make_lotka_volterra,
    make_two_regime,
)
from latentode.exceptions import ParameterError

MAKERS: list[Callable[..., tuple[pd.DataFrame, DynamicalSystem]]] = [
    make_linear_spiral,
    make_two_regime,
    make_damped_pendulum,
    make_lorenz,
]


@pytest.mark.parametrize("make", MAKERS)
def test_frame_is_a_noisy_subsample_of_a_regular_grid(
    make: Callable[..., tuple[pd.DataFrame, DynamicalSystem]],
) -> None:
    df, system = make(n_series=2, n_points=200, t_max=5.0, random_state=0)
    assert isinstance(system, DynamicalSystem)
    assert list(df.columns) == ["unique_id", "ds", *system.state_cols]
    assert (df.groupby("unique_id").size() == 60).all()  # 30 % of 200
    grid = np.linspace(0.0, 5.0, 200)
    assert np.isin(df["ds"], grid).all()
    again, _ = make(n_series=2, n_points=200, t_max=5.0, random_state=0)
    pd.testing.assert_frame_equal(df, again)
    other, _ = make(n_series=2, n_points=200, t_max=5.0, random_state=1)
    assert not df.equals(other)


@pytest.mark.parametrize("make", MAKERS)
def test_noise_free_values_follow_the_system(
    make: Callable[..., tuple[pd.DataFrame, DynamicalSystem]],
) -> None:
    df, system = make(
        n_series=3, n_points=101, t_max=2.0, noise=0.0, observed_fraction=1.0, random_state=0
    )
    first = df[df["unique_id"] == "s0000"]
    x = first[list(system.state_cols)].to_numpy()
    np.testing.assert_allclose(x[0], system.default_initial_state)
    for sid, group in df.groupby("unique_id"):
        states = group[list(system.state_cols)].to_numpy()
        expected = system.trajectory(states[0], group["ds"].to_numpy())
        np.testing.assert_allclose(states, expected, rtol=1e-6, atol=1e-6, err_msg=str(sid))


def test_linear_spiral_matches_the_matrix_exponential() -> None:
    df, system = make_linear_spiral(n_points=251, noise=0.0, observed_fraction=1.0, random_state=0)
    a = np.array([[-0.1, 2.0], [-2.0, -0.1]])
    np.testing.assert_array_equal(system.matrix, a)
    z0 = np.array(system.default_initial_state)
    exact = np.stack([expm(a * t) @ z0 for t in df["ds"]])
    np.testing.assert_allclose(df[["x", "y"]].to_numpy(), exact, atol=1e-8)


def test_noise_is_relative_to_the_state_std() -> None:
    kwargs = {"n_points": 4000, "t_max": 10.0, "observed_fraction": 1.0, "random_state": 5}
    clean, system = make_damped_pendulum(noise=0.0, **kwargs)
    noisy, _ = make_damped_pendulum(noise=0.05, **kwargs)
    cols = list(system.state_cols)
    residual = (noisy[cols] - clean[cols]).to_numpy()
    np.testing.assert_allclose(
        residual.std(axis=0), 0.05 * clean[cols].to_numpy().std(axis=0), rtol=0.05
    )


def test_vector_fields_on_batches() -> None:
    rng = np.random.default_rng(0)
    _, spiral = make_linear_spiral(n_points=10)
    x = rng.normal(size=(7, 2))
    np.testing.assert_allclose(spiral.vector_field(x), x @ spiral.matrix.T)
    _, cubic = make_two_regime(n_points=10)
    np.testing.assert_allclose(cubic(x), (x**3) @ cubic.matrix.T)
    _, pendulum = make_damped_pendulum(n_points=10)
    np.testing.assert_allclose(pendulum(np.array([[np.pi / 2, 1.0]])), [[1.0, -0.25 - 5.0]])
    _, lor = make_lorenz(n_points=10)
    np.testing.assert_allclose(
        lor(np.array([[1.0, 2.0, 3.0]])), [[10.0, 1.0 * 25.0 - 2.0, 2.0 - 8.0]]
    )
    assert lor(rng.normal(size=(4, 5, 3))).shape == (4, 5, 3)
    restored = pickle.loads(pickle.dumps(lor))
    np.testing.assert_array_equal(
        restored(x[:, :1].repeat(3, axis=1)), lor(x[:, :1].repeat(3, axis=1))
    )


def test_trajectory_checks_its_inputs() -> None:
    _, system = make_lorenz(n_points=10)
    with pytest.raises(ParameterError, match=r"initial states of shape \(3,\) or \(n, 3\)"):
        system.trajectory([1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ParameterError, match="strictly increasing"):
        system.trajectory([1.0, 2.0, 3.0], [1.0, 0.0])


def _lv_invariant(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # V = δx − γ ln x + βy − α ln y is conserved with α=1.5, β=1, γ=3, δ=1
    return x - 3.0 * np.log(x) + y - 1.5 * np.log(y)


def test_lotka_volterra_conserves_its_invariant() -> None:
    df, params, system = make_lotka_volterra(
        n_series=5, n_points=40, noise=0.0, random_state=0, return_params=True, return_system=True
    )
    assert list(df.columns) == ["unique_id", "ds", "prey", "predator"]
    assert system.parameters == {"alpha": 1.5, "beta": 1.0, "gamma": 3.0, "delta": 1.0}
    for row in params.itertuples():
        g = df[df["unique_id"] == row.unique_id]
        assert len(g) == 40 and (np.diff(g["ds"]) > 0).all()
        v = _lv_invariant(g["prey"].to_numpy(), g["predator"].to_numpy())
        np.testing.assert_allclose(v, _lv_invariant(row.prey0, row.predator0), rtol=1e-7)


def test_lotka_volterra_noise_and_returns() -> None:
    df = make_lotka_volterra(n_series=20, n_points=30, noise=0.3, random_state=1)
    assert isinstance(df, pd.DataFrame)
    assert (df[["prey", "predator"]] > 0).all().all()  # multiplicative noise keeps signs
    add = make_lotka_volterra(
        n_series=3, n_points=30, noise=0.1, noise_type="additive", random_state=1
    )
    assert isinstance(add, pd.DataFrame)
    pair = make_lotka_volterra(n_series=3, n_points=30, random_state=1, return_system=True)
    assert isinstance(pair, tuple) and isinstance(pair[1], DynamicalSystem)
    with pytest.raises(ParameterError, match="'noise_type' parameter of make_lotka_volterra"):
        make_lotka_volterra(noise_type="poisson")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"'grid_size' .* range \[30, inf\)"):
        make_lotka_volterra(n_points=30, grid_size=10)
