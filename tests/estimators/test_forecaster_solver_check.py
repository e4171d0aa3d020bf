"""The accuracy guard of fixed-step decoders (``solver_check_``, SolverAccuracyWarning)."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch

from latentode import LatentODEForecaster
from latentode.datasets import make_periodic
from latentode.estimators._tensors import PaddedSeries
from latentode.estimators.forecaster import _solver_check as solver_check
from latentode.estimators.forecaster._solver_check import TOLERANCE, check_fixed_step
from latentode.exceptions import SolverAccuracyWarning
from latentode.nn.solve import FIXED_METHODS

_PARAMS = dict(
    latent_dim=2,
    encoder="gru",
    encoder_hidden_dim=8,
    field_hidden_dim=8,
    max_epochs=2,
    random_state=0,
)


def _fitted(**params):
    df = make_periodic(n_series=12, n_points=15, observed_fraction=0.7, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverAccuracyWarning)
        est = LatentODEForecaster(**{**_PARAMS, **params}).fit(df)
    return est, PaddedSeries(est.data_.transform(df), est.device_, est.time_span)


def _speed_up(module: torch.nn.Module, factor: float) -> None:
    with torch.no_grad():
        last = module.field.net[-1]
        last.weight.mul_(factor)
        last.bias.mul_(factor)


def test_a_fine_fixed_step_passes_the_check_quietly():
    est, padded = _fitted(method="rk4", step_size=0.05)
    assert est.solver_check_["rms_difference"] < TOLERANCE
    with warnings.catch_warnings():
        warnings.simplefilter("error", SolverAccuracyWarning)
        assert check_fixed_step(est.module_, padded)["rms_difference"] < TOLERANCE


def test_a_coarse_step_on_fast_dynamics_warns_with_what_to_change():
    est, padded = _fitted(method="euler", step_size=1.0)
    _speed_up(est.module_, 30.0)  # dynamics far faster than the step
    with pytest.warns(SolverAccuracyWarning, match="smaller 'step_size'"):
        result = check_fixed_step(est.module_, padded)
    assert result["rms_difference"] > TOLERANCE


def test_adaptive_solvers_are_not_checked():
    est, _ = _fitted(method="dopri5")
    assert est.solver_check_ is None


def test_the_default_decoder_is_fixed_step_and_checked_after_fit():
    est, _padded = _fitted()  # no method given: the default
    assert est.method in FIXED_METHODS
    check = est.solver_check_
    assert check is not None and check["method"] == est.method
    assert 0 <= check["rms_difference"] < TOLERANCE


def test_long_series_are_checked_at_a_subsample_of_their_times(monkeypatch):
    est, _ = _fitted()
    long = make_periodic(n_series=3, n_points=700, observed_fraction=1.0, random_state=1)
    padded = PaddedSeries(est.data_.transform(long), est.device_, est.time_span)
    asked = []
    decode = est.module_.decode

    def recording(z0, context, times):
        asked.append(times)
        return decode(z0, context, times)

    monkeypatch.setattr(est.module_, "decode", recording)
    monkeypatch.setattr(solver_check, "MAX_CHECK_TIMES", 100)
    result = check_fixed_step(est.module_, padded)
    # Both solves decode every 7th of the 700 steps (100 times), from the first on; a
    # step that is much too coarse is still caught there.
    assert [t.shape for t in asked] == [torch.Size([3, 100])] * 2
    torch.testing.assert_close(asked[0], padded.batch(torch.arange(3)).times[:, ::7])
    assert 0 <= result["rms_difference"] < TOLERANCE
    _speed_up(est.module_, 30.0)
    est.module_.solver = dataclasses.replace(est.module_.solver, step_size=1.0)
    with pytest.warns(SolverAccuracyWarning):
        assert check_fixed_step(est.module_, padded)["rms_difference"] > TOLERANCE
