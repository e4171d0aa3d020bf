"""SeriesAnomalyDetector: two scores of a fitted Latent ODE in robust units, fused."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from latentode import FFJORDDensity, LatentODEForecaster, SeriesAnomalyDetector
from latentode.datasets import make_periodic
from latentode.estimators.anomaly import MIN_SERIES, _centre_spread
from latentode.exceptions import ParameterError


def _density() -> FFJORDDensity:
    return FFJORDDensity(max_epochs=2, hidden_dims=(16, 16), random_state=0)


@pytest.fixture(scope="module")
def data():
    train = make_periodic(n_series=40, n_points=30, random_state=0)
    test = make_periodic(n_series=12, n_points=30, random_state=1)
    return train, test


@pytest.fixture(scope="module")
def forecaster(data) -> LatentODEForecaster:
    torch.set_num_threads(1)
    return LatentODEForecaster(max_epochs=3, random_state=0).fit(data[0])


@pytest.fixture(scope="module")
def detector(data, forecaster) -> SeriesAnomalyDetector:
    return SeriesAnomalyDetector(forecaster, _density(), prefit=True, random_state=0).fit(data[0])


def test_the_score_is_minus_the_larger_robust_unit_score(data, forecaster, detector) -> None:
    train, test = data
    assert detector.forecaster_ is forecaster  # prefit: used as it is
    predictive_ref = -forecaster.score_samples(train, per="observation")
    assert detector.scales_["predictive"] == pytest.approx(_centre_spread(predictive_ref))
    predictive = -forecaster.score_samples(test, per="observation")
    latent = -detector.density_.score_samples(forecaster.transform(test))
    (pc, ps), (lc, ls) = detector.scales_["predictive"], detector.scales_["latent"]
    expected = np.stack([(predictive - pc) / ps, (latent - lc) / ls], axis=1)
    np.testing.assert_allclose(detector.score_components(test), expected, rtol=1e-6)
    np.testing.assert_allclose(detector.score_samples(test), -expected.max(axis=1), rtol=1e-6)
    np.testing.assert_allclose(
        detector.decision_function(test), detector.score_samples(test) - detector.offset_
    )


def test_the_latent_reference_is_cross_fitted(data, forecaster, detector) -> None:
    # in-sample, the density scores the training means better than a new series'
    z = forecaster.transform(data[0])
    in_sample = -detector.density_.score_samples(z)
    assert detector.scales_["latent"][0] > np.median(in_sample)


def test_a_shifted_series_is_the_most_anomalous(data, detector) -> None:
    test = data[1].copy()
    ids = test["unique_id"].unique()
    rows = test["unique_id"] == ids[4]
    test.loc[rows, "y"] += 6 * data[0]["y"].std()
    scores = detector.score_samples(test)
    assert int(np.argmin(scores)) == 4
    assert detector.predict(test)[4] == -1
    # the threshold calls about `contamination` of the training series anomalous
    assert np.mean(detector.predict(data[0]) == -1) <= 0.1


def test_fit_clones_an_unfitted_forecaster(data) -> None:
    model = LatentODEForecaster(max_epochs=1, random_state=0)
    det = SeriesAnomalyDetector(model, _density(), random_state=0).fit(data[0])
    assert det.forecaster_ is not model and not hasattr(model, "module_")
    assert np.isfinite(det.score_samples(data[1])).all()


def test_bad_settings_and_too_few_series_are_refused(data, forecaster) -> None:
    with pytest.raises(ParameterError, match="contamination"):
        SeriesAnomalyDetector(forecaster, prefit=True, contamination=0.7).fit(data[0])
    with pytest.raises(ParameterError, match="'density' must be a FFJORDDensity"):
        SeriesAnomalyDetector(forecaster, "gmm", prefit=True).fit(data[0])
    with pytest.raises(ParameterError, match="'forecaster' must be a LatentODEForecaster"):
        SeriesAnomalyDetector(_density()).fit(data[0])
    with pytest.raises(ParameterError, match="prefit=True needs"):
        SeriesAnomalyDetector(prefit=True).fit(data[0])
    few = data[0][data[0]["unique_id"].isin(data[0]["unique_id"].unique()[: MIN_SERIES - 1])]
    with pytest.raises(ParameterError, match=f"at least {MIN_SERIES} training series"):
        SeriesAnomalyDetector(forecaster, _density(), prefit=True).fit(few)


def test_clone_and_pickle(data, detector) -> None:
    params = clone(detector).get_params()
    assert params["prefit"] is True and params["contamination"] == 0.05
    again = pickle.loads(pickle.dumps(detector))
    np.testing.assert_array_equal(again.score_samples(data[1]), detector.score_samples(data[1]))


def test_save_and_load_round_trip(tmp_path, data, detector) -> None:
    import latentode

    path = detector.save(tmp_path / "detector")
    assert sorted(p.name for p in path.iterdir()) == [
        "density",
        "forecaster",
        "latentode.json",
        "weights.pt",
    ]
    again = latentode.load(path)
    assert isinstance(again, SeriesAnomalyDetector)
    np.testing.assert_allclose(
        again.score_components(data[1]), detector.score_components(data[1]), rtol=1e-6
    )
    np.testing.assert_array_equal(again.predict(data[1]), detector.predict(data[1]))
    assert again.offset_ == detector.offset_ and again.scales_ == detector.scales_
    # a refit uses the saved models' settings; prefit keeps the fitted forecaster itself
    assert again.prefit and again.forecaster is again.forecaster_
    assert again.density.get_params() == detector.density_.get_params()
    assert not hasattr(again.density, "module_")


def test_a_failed_save_keeps_the_old_detector(tmp_path, data, detector, monkeypatch) -> None:
    import latentode

    path = detector.save(tmp_path / "detector")
    before = latentode.load(path).offset_
    inode = (path / "forecaster").stat().st_ino  # the old model's, not a rewritten one

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(FFJORDDensity, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        detector.save(path)
    assert latentode.load(path).offset_ == before
    assert (path / "forecaster").stat().st_ino == inode
    assert [p.name for p in tmp_path.iterdir()] == ["detector"]


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: c["fitted"].update(offset=float("nan")), "non-finite"),
        (lambda c: c["fitted"]["scales"].update(latent=[0.0, 0.0]), "spread"),
        (lambda c: c["fitted"].pop("scales"), "scales"),
        (lambda c: c["params"].update(contamination=0.9), "contamination"),
        (lambda c: c["params"].update(bogus=1), "unexpected parameters"),
    ],
)
def test_a_tampered_detector_is_refused(tmp_path, detector, edit, match) -> None:
    import json

    import latentode
    from latentode.exceptions import ModelFileError

    path = detector.save(tmp_path / "detector")
    config = json.loads((path / "latentode.json").read_text())
    edit(config)
    (path / "latentode.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=match):
        latentode.load(path)


def test_a_detector_whose_model_is_missing_or_of_another_kind_is_refused(
    tmp_path, detector
) -> None:
    import shutil

    import latentode
    from latentode.exceptions import ModelFileError

    path = detector.save(tmp_path / "detector")
    shutil.rmtree(path / "density")
    shutil.copytree(path / "forecaster", path / "density")
    with pytest.raises(ModelFileError, match="expected a FFJORDDensity"):
        latentode.load(path)
    shutil.rmtree(path / "forecaster")
    with pytest.raises(ModelFileError, match="missing"):
        latentode.load(path)
