"""Phase-portrait figures of NeuralODEDynamics (Agg-safe, return Figures)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from latentode.datasets import make_linear_spiral, make_lorenz
from latentode.estimators.dynamics import NeuralODEDynamics
from latentode.exceptions import QueryError
from latentode.plotting.dynamics import plot_field_comparison, plot_phase_portrait

torch.set_num_threads(1)

FAST = {"method": "rk4", "max_epochs": 1, "random_state": 0, "early_stopping": False}


@pytest.fixture(scope="module")
def spiral():
    df, system = make_linear_spiral(n_series=2, n_points=100, t_max=5.0, random_state=0)
    return df, system, NeuralODEDynamics(**FAST).fit(df)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_phase_portrait_learned_only(spiral):
    df, _, est = spiral
    fig = plot_phase_portrait(est, df, grid_size=12)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_title() == "learned field"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    # Data drawn: one line per trajectory, passing through the observed states.
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
    assert len(lines) == 2
    first = df[df["unique_id"] == "s0000"]
    np.testing.assert_allclose(lines[0].get_xdata(), first["x"].to_numpy())
    assert _png(fig).startswith(b"\x89PNG")


def test_phase_portrait_with_true_field(spiral):
    df, system, est = spiral
    fig = plot_phase_portrait(est, df, true_field=system, grid_size=10)
    assert [ax.get_title() for ax in fig.axes] == ["learned field", "true field"]
    # A plain callable works too; region defaults from the fitted scaler without data.
    fig = plot_phase_portrait(est, true_field=system.vector_field, bounds=((-1, 1), (-2, 2)))
    assert fig.axes[0].get_xlim() == (-1.0, 1.0)
    assert _png(fig)


def test_field_comparison_error_map(spiral):
    df, system, est = spiral
    fig = plot_field_comparison(est, system, df, grid_size=10)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["vector field", "relative error"]
    mesh = fig.axes[1].collections[0]
    err = np.asarray(mesh.get_array())
    assert err.size == 100 and 0.0 <= err.min() and err.max() <= 1.0
    assert _png(fig)


def test_slice_of_a_three_dimensional_field():
    df, system = make_lorenz(n_points=60, t_max=1.0, random_state=0)
    est = NeuralODEDynamics(**FAST).fit(df)
    fig = plot_phase_portrait(est, df, true_field=system, dims=(0, 2), grid_size=8)
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("x", "z")


def test_plot_input_errors(spiral):
    df, _, est = spiral
    with pytest.raises(QueryError, match="two different state indices"):
        plot_phase_portrait(est, df, dims=(0, 0))
    with pytest.raises(QueryError, match="increasing 'bounds'"):
        plot_phase_portrait(est, bounds=((1, 0), (0, 1)))
    with pytest.raises(QueryError, match="return shape"):
        plot_field_comparison(est, lambda x: x[:, :1], df)
    with pytest.raises(QueryError, match="missing"):
        plot_phase_portrait(est, pd.DataFrame({"unique_id": ["a"], "ds": [0.0]}))
