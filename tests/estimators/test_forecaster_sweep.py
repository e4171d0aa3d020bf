"""LatentODEForecaster over encoders × posteriors × solvers × adjoint, on tiny data.

Plumbing, not accuracy: every combination fits, predicts, gives intervals and scores
that are finite, and reports its solver evaluations in ``history_``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentode import LatentODEForecaster
from latentode.datasets import make_periodic

TINY = dict(
    latent_dim=2,
    encoder_hidden_dim=8,
    field_hidden_dim=8,
    field_layers=1,
    flow_hidden_dims=(8,),
    step_size=0.25,
    rtol=1e-2,
    atol=1e-3,
    max_epochs=2,
    batch_size=8,
    n_samples=4,
    n_iwae_samples=4,
    validation_fraction=0.25,
    random_state=0,
)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_periodic(n_series=8, n_points=10, observed_fraction=0.6, random_state=2)


@pytest.mark.parametrize("adjoint", [False, True], ids=["direct", "adjoint"])
@pytest.mark.parametrize("method", ["euler", "dopri5"])
@pytest.mark.parametrize("posterior", ["gaussian", "ffjord"])
@pytest.mark.parametrize("encoder", ["odernn", "gru"])
def test_every_configuration_fits_predicts_and_scores(data, encoder, posterior, method, adjoint):
    est = LatentODEForecaster(
        **TINY, encoder=encoder, posterior=posterior, method=method, adjoint=adjoint
    ).fit(data)
    assert est.n_epochs_ == len(est.history_) == 2

    for logs in est.history_:
        assert {"train_loss", "val_loss", "nfe_forward", "nfe_backward"} <= set(logs)
        assert np.isfinite([v for v in logs.values() if isinstance(v, float)]).all()
        assert logs["nfe_forward"] > 0
        if adjoint:
            assert logs["nfe_backward"] > 0  # the adjoint solve's evaluations are counted
        assert ("nfe_encoder" in logs) == (encoder == "odernn")
        assert ("nfe_flow" in logs) == (posterior == "ffjord")
        if posterior == "ffjord":
            assert logs["nfe_flow"] > 0

    mean = est.predict(data, horizon=1.0, n_points=2)
    assert len(mean) == 8 * 2 and np.isfinite(mean["y"].to_numpy()).all()
    band = est.predict_interval(data, horizon=1.0, n_points=2, coverage=0.8)
    lower, upper = band["y_lower"].to_numpy(), band["y_upper"].to_numpy()
    assert np.isfinite(lower).all() and np.isfinite(upper).all()
    assert (lower <= upper).all()
    scores = est.score_samples(data)
    assert scores.shape == (8,) and np.isfinite(scores).all()
