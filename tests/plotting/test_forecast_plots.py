"""plot_forecast: a Figure of observed points, mean and band, leaving pyplot alone."""

from __future__ import annotations

import io
from collections.abc import Iterator

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from latentode.plotting.forecast import plot_forecast


@pytest.fixture
def svg_backend() -> Iterator[str]:
    """A non-Agg backend that needs no display, restored afterwards."""
    previous = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        yield matplotlib.get_backend()
    finally:
        matplotlib.use(previous)


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    t = np.linspace(0.0, 1.0, 5)
    history = pd.DataFrame({"unique_id": ["a"] * 5 + ["b"] * 5, "ds": [*t, *t], "y": 1.0})
    grid = np.linspace(0.0, 2.0, 7)
    forecast = pd.DataFrame(
        {"unique_id": ["a"] * 7 + ["b"] * 7, "ds": [*grid, *grid], "y": 1.0}
    ).assign(y_lower=0.5, y_upper=1.5)
    return history, forecast


def test_plot_forecast_leaves_the_backend_alone(svg_backend: str) -> None:
    history, forecast = _frames()
    fig = plot_forecast(history, forecast, feature="y", truth=history, title="t")
    assert matplotlib.get_backend() == svg_backend
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")


def test_plot_forecast_draws_one_panel_per_series_with_its_band() -> None:
    history, forecast = _frames()
    fig = plot_forecast(history, forecast, feature="y", max_series=6)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["a", "b"]
    assert all(ax.collections for ax in visible)  # the fill_between band
    assert fig.texts[0].get_text() == "y: forecast"
