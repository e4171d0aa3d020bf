"""Adaptive solves with a step size per series (``latentode.nn._adaptive``).

With torchdiffeq's one step size per batch, a series' dopri5 forecast (the default decoder
before Euler on per-series grids) depended on its batch-mates (0.06–0.12 on the periodic
protocol). Every adaptive method must now give a series the same trajectory alone as among 200 very
different series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from latentode import LatentODEForecaster
from latentode.exceptions import MaxStepsExceededError
from latentode.nn.solve import ADAPTIVE_METHODS, NFECounter, SolverConfig, solve_on_grids
from latentode.nn.vector_field import MLPVectorField


def _batch(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    # states of very different sizes, spans from 0.1 to 10 time units, queries before t0
    z0 = torch.randn(3, n, 4, generator=g) * torch.logspace(-2, 1, n).unsqueeze(-1)
    t0 = torch.rand(n, generator=g, dtype=torch.float64)
    span = torch.logspace(-1, 1, n, dtype=torch.float64)
    times = t0.unsqueeze(1) + span.unsqueeze(1) * (
        torch.rand(n, 12, generator=g, dtype=torch.float64) * 1.2 - 0.2
    )
    return z0, t0, torch.sort(times, dim=1).values


@pytest.mark.parametrize("method", ADAPTIVE_METHODS)
def test_a_series_alone_equals_the_same_series_in_a_batch_of_200(method: str) -> None:
    torch.manual_seed(0)
    field = MLPVectorField(4, 32, 2)
    z0, t0, times = _batch(200)
    config = SolverConfig(method=method, rtol=1e-3, atol=1e-4)
    with torch.no_grad():
        together = solve_on_grids(field, z0, t0, times, config)
        for i in (0, 57, 199):
            alone = solve_on_grids(field, z0[:, i : i + 1], t0[i : i + 1], times[i : i + 1], config)
            gap = (alone[:, 0] - together[:, i]).abs().max().item()
            assert gap <= 1e-4, f"{method}: series {i} moved by {gap:.3g} with batch-mates"


@pytest.mark.parametrize("method", ADAPTIVE_METHODS)
def test_rows_decay_at_their_own_rates_to_tolerance(method: str) -> None:
    rates = torch.linspace(0.2, 4.0, 50, dtype=torch.float64)

    def decay(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return -rates.unsqueeze(-1) * z

    z0 = torch.ones(50, 1, dtype=torch.float64)
    t0 = torch.full((50,), 0.5, dtype=torch.float64)
    times = torch.linspace(0.0, 2.0, 9, dtype=torch.float64).expand(50, 9)  # 0 < t0: backwards
    counter = NFECounter()
    out = solve_on_grids(
        decay, z0, t0, times, SolverConfig(method=method, rtol=1e-6, atol=1e-8), counter
    )
    exact = torch.exp(-rates.unsqueeze(1) * (times - 0.5)).unsqueeze(-1)
    rel = ((out - exact).abs() / exact).max().item()
    assert rel < 1e-3, f"{method}: relative error {rel:.2e}"
    assert counter.forward == counter.calls > 0


def test_gradients_through_adaptive_steps_match_the_exact_derivative() -> None:
    rate = torch.tensor([0.7, 2.0], dtype=torch.float64, requires_grad=True)

    def decay(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return -rate.unsqueeze(-1) * z

    times = torch.tensor([[0.3, 1.0, 2.0], [0.1, 0.2, 1.5]], dtype=torch.float64)
    z0 = torch.ones(2, 1, dtype=torch.float64)
    t0 = torch.zeros(2, dtype=torch.float64)
    out = solve_on_grids(decay, z0, t0, times, SolverConfig(rtol=1e-8, atol=1e-10))
    out.sum().backward()
    expected = -(times * torch.exp(-rate.detach().unsqueeze(1) * times)).sum(dim=1)
    torch.testing.assert_close(rate.grad, expected, rtol=1e-5, atol=1e-7)


def test_a_stiff_row_runs_out_of_steps_and_is_named() -> None:
    rates = torch.tensor([1.0, 1e6, 1.0], dtype=torch.float64)

    def stiff(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return -rates.unsqueeze(-1) * z

    config = SolverConfig(method="dopri5", max_num_steps=50)
    times = torch.full((3, 1), 10.0, dtype=torch.float64)
    with pytest.raises(MaxStepsExceededError, match="max_num_steps=50") as info:
        solve_on_grids(stiff, torch.ones(3, 1, dtype=torch.float64), torch.zeros(3), times, config)
    assert info.value.row == 1


@pytest.mark.parametrize("method", ["dopri5", None], ids=["dopri5", "default"])
def test_forecasts_do_not_depend_on_batch_mates(method: str | None) -> None:
    rng = np.random.default_rng(1)
    rows, queries = [], []
    for i in range(40):  # periods and amplitudes differ 10×: a shared step would couple them
        t = np.sort(rng.uniform(0.0, 5.0, int(rng.integers(6, 15))))
        amp, freq = 0.3 + 3.0 * (i % 4), 0.5 + 2.0 * (i % 5)
        rows.append(pd.DataFrame({"unique_id": i, "ds": t, "y": amp * np.sin(freq * t)}))
        queries.append(pd.DataFrame({"unique_id": i, "ds": t[-1] + np.linspace(0.2, 3.0, 6)}))
    df, at = pd.concat(rows, ignore_index=True), pd.concat(queries, ignore_index=True)
    est = LatentODEForecaster(
        latent_dim=4, encoder_hidden_dim=8, field_hidden_dim=16, max_epochs=3, random_state=0
    )
    if method is not None:  # adaptive: the case that used to couple
        est.set_params(method=method)
    est.fit(df)
    together = est.predict(df, at=at)
    for sid in (0, 13, 39):
        alone = est.predict(df[df["unique_id"] == sid], at=at[at["unique_id"] == sid])
        mine = together[together["unique_id"] == sid]["y"].to_numpy()
        np.testing.assert_allclose(mine, alone["y"].to_numpy(), atol=1e-4, rtol=0)
