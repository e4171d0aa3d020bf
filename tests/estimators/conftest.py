"""Small fitted forecasters shared by the estimator tests (fitted once per module)."""

from __future__ import annotations

import pandas as pd
import pytest

from latentode import LatentODEForecaster
from latentode.datasets import make_periodic

FAST = dict(
    latent_dim=4,
    encoder_hidden_dim=8,
    field_hidden_dim=16,
    field_layers=1,
    max_epochs=2,
    batch_size=16,
    n_samples=8,
    n_iwae_samples=4,
    random_state=0,
)


@pytest.fixture
def fast() -> dict:
    """Hyper-parameters of a tiny, quick model."""
    return dict(FAST)


@pytest.fixture(scope="module")
def periodic_df() -> pd.DataFrame:
    return make_periodic(n_series=24, n_points=20, observed_fraction=0.6, random_state=1)


@pytest.fixture(scope="module")
def fitted(periodic_df) -> LatentODEForecaster:
    return LatentODEForecaster(**FAST).fit(periodic_df)
