from __future__ import annotations

import pandas as pd
import pytest

from latentode.datasets import make_periodic


@pytest.fixture(scope="module")
def periodic_df() -> pd.DataFrame:
    return make_periodic(n_series=24, n_points=20, observed_fraction=0.6, random_state=1)
