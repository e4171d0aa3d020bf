"""FFJORDDensity: the scikit-learn contract, normalisation, scaling, sampling, persistence."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

import latentode
from latentode.estimators import ESTIMATORS
from latentode.estimators.density import SKLEARN_EXPECTED_FAILED_CHECKS, FFJORDDensity
from latentode.exceptions import ParameterError

#: Cheap configurations for the common checks: a fixed-step solver (training and scoring)
#: passes all of them, an adaptive one all but the declared batch-invariance check.
_FIXED = FFJORDDensity(
    hidden_dims=(8,), method="rk4", eval_method="rk4", n_substeps=2, max_epochs=2, batch_size=64
)
_ADAPTIVE = FFJORDDensity(
    hidden_dims=(8,), rtol=1e-3, atol=1e-3, eval_rtol=1e-3, eval_atol=1e-3, max_epochs=2
)


def _expected_failures(estimator: FFJORDDensity) -> dict[str, str]:
    return SKLEARN_EXPECTED_FAILED_CHECKS if estimator.adjoint else {}


@parametrize_with_checks([_FIXED, _ADAPTIVE], expected_failed_checks=_expected_failures)
def test_scikit_learn_common_checks(estimator, check):
    check(estimator)


def _two_blobs(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[-2.0, 0.0], [2.0, 1.0]])
    x = centres[rng.integers(0, 2, n)] + rng.normal(scale=0.5, size=(n, 2))
    return x * np.array([3.0, 0.5]) + np.array([10.0, -4.0])  # unequal feature scales


@pytest.fixture(scope="module")
def fitted() -> FFJORDDensity:
    torch.set_num_threads(1)
    return FFJORDDensity(
        hidden_dims=(32, 32), batch_size=256, max_epochs=12, random_state=0, eval_rtol=1e-4
    ).fit(_two_blobs(2000, 0))


def test_learned_density_integrates_to_one_on_a_grid(fitted):
    lo = fitted.mean_ - 6 * fitted.scale_
    hi = fitted.mean_ + 6 * fitted.scale_
    n = 120
    gx, gy = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    density = np.exp(fitted.score_samples(grid))
    mass = density.sum() * (gx[1] - gx[0]) * (gy[1] - gy[0])
    assert mass == pytest.approx(1.0, abs=0.05)


def test_flow_beats_a_single_gaussian_on_held_out_bimodal_data(fitted):
    test = _two_blobs(2000, 1)
    gaussian = GaussianMixture(1).fit(_two_blobs(2000, 0))
    assert fitted.score(test) > gaussian.score(test) + 0.3
    assert fitted.history_[-1]["nfe_forward"] > 0
    assert fitted.score(test) == pytest.approx(fitted.score_samples(test).mean())


def test_samples_follow_the_data_and_are_seeded(fitted):
    a = fitted.sample(3000, random_state=5)
    assert a.shape == (3000, 2) and a.dtype == np.float64
    np.testing.assert_array_equal(a, fitted.sample(3000, random_state=5))
    assert not np.array_equal(a, fitted.sample(3000, random_state=6))
    data = _two_blobs(3000, 2)
    np.testing.assert_allclose(a.mean(0), data.mean(0), atol=0.25 * data.std(0).max())
    np.testing.assert_allclose(a.std(0), data.std(0), rtol=0.15)
    # Samples land where the model puts mass: higher log-density than uniform noise.
    noise = np.random.default_rng(0).uniform(data.min(0), data.max(0), size=(3000, 2))
    assert fitted.score(a) > fitted.score(noise) + 1.0


def test_standardisation_jacobian_is_accounted_for():
    x = _two_blobs(400, 3)
    scale, shift = np.array([7.0, 0.02]), np.array([-3.0, 50.0])
    params = dict(hidden_dims=(8,), method="rk4", n_substeps=4, max_epochs=2, random_state=0)
    a = FFJORDDensity(**params).fit(x)
    b = FFJORDDensity(**params).fit(x * scale + shift)
    expected = a.score_samples(x[:50]) - np.log(scale).sum()
    np.testing.assert_allclose(b.score_samples(x[:50] * scale + shift), expected, atol=2e-3)


def test_save_load_and_pickle_give_identical_scores(fitted, tmp_path, monkeypatch):
    # Until latentode.estimators registers the class itself (no-op once it does).
    monkeypatch.setitem(ESTIMATORS, "FFJORDDensity", FFJORDDensity)
    x = _two_blobs(50, 4)
    expected = fitted.score_samples(x)
    loaded = latentode.load(fitted.save(tmp_path / "model"))
    assert isinstance(loaded, FFJORDDensity)
    np.testing.assert_array_equal(loaded.score_samples(x), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).score_samples(x), expected)
    np.testing.assert_array_equal(loaded.mean_, fitted.mean_)


def test_hutchinson_training_with_penalties_reports_them():
    x = _two_blobs(300, 5)
    est = FFJORDDensity(
        hidden_dims=(8,),
        divergence="hutchinson",
        noise="gaussian",
        kinetic_weight=0.01,
        jacobian_weight=0.01,
        lr=5e-3,  # a field large enough after 2 epochs for the penalties to show in float32
        max_epochs=2,
        random_state=0,
    ).fit(x)
    last = est.history_[-1]
    assert last["kinetic"] > 0 and last["frobenius"] > 0
    assert last["train_loss"] > last["train_nll"]  # the penalties are in the loss
    assert {"nfe_forward", "nfe_backward", "val_loss"} <= set(last)
    # Scoring switches to the exact trace: deterministic.
    np.testing.assert_array_equal(est.score_samples(x[:20]), est.score_samples(x[:20]))
    assert est.module_.blocks[0].divergence == "hutchinson"


def test_resume_continues_from_the_checkpoint(tmp_path):
    x = _two_blobs(300, 6)
    params = dict(hidden_dims=(8,), method="rk4", random_state=0, checkpoint_dir=str(tmp_path))
    FFJORDDensity(max_epochs=2, **params).fit(x)
    resumed = FFJORDDensity(max_epochs=3, **params).fit(x, resume=True)
    assert resumed.n_epochs_ == 3 and [h["epoch"] for h in resumed.history_] == [1, 2, 3]


def test_adjoint_training_runs_and_counts_backward_evaluations():
    est = FFJORDDensity(hidden_dims=(8,), adjoint=True, max_epochs=1, random_state=0)
    est.fit(_two_blobs(200, 7))
    assert est.history_[0]["nfe_backward"] > 0


def test_invalid_parameters_and_calls_raise_verbatim_messages():
    x = _two_blobs(50, 8)
    with pytest.raises(ParameterError) as info:
        FFJORDDensity(hidden_dims=()).fit(x)
    assert str(info.value) == (
        "The 'hidden_dims' parameter of FFJORDDensity must be a non-empty tuple of ints "
        ">= 1. Got () instead."
    )
    with pytest.raises(ParameterError, match="'divergence' parameter of FFJORDDensity"):
        FFJORDDensity(divergence="trace").fit(x)
    with pytest.raises(NotFittedError):
        FFJORDDensity().score_samples(x)
    est = FFJORDDensity(hidden_dims=(4,), method="euler", max_epochs=1).fit(x)
    with pytest.raises(ParameterError, match=r"'n_samples' must be an int >= 1\. Got 0"):
        est.sample(0)
    with pytest.raises(ValueError, match="X has 3 features, but FFJORDDensity is expecting 2"):
        est.score_samples(np.zeros((4, 3)))
    with pytest.raises(ParameterError, match="needs the 'checkpoint_dir'"):
        clone(est).fit(x, resume=True)


def test_plot_density_2d_draws_heat_map_and_samples(fitted, tmp_path):
    from latentode.plotting.density import plot_density_2d

    x = _two_blobs(300, 9)
    fig = plot_density_2d(fitted, x, n_samples=200, grid_size=40)
    density_ax, samples_ax = fig.axes[:2]
    assert [density_ax.get_title(), samples_ax.get_title()] == ["density", "samples"]
    heat = density_ax.collections[0].get_array()
    assert heat.size == 40 * 40 and float(heat.max()) > 0
    assert [len(c.get_offsets()) for c in samples_ax.collections] == [300, 200]
    fig.savefig(tmp_path / "density.png")
    assert (tmp_path / "density.png").stat().st_size > 0
    only = plot_density_2d(fitted, n_samples=0, grid_size=10, log_scale=True)
    assert len(only.axes) == 2  # the density axes and its colour bar
    wide = FFJORDDensity(hidden_dims=(4,), method="euler", max_epochs=1).fit(np.ones((20, 3)))
    with pytest.raises(ParameterError, match="draws densities of 2 features; the estimator has 3"):
        plot_density_2d(wide)


def test_cosine_schedule_anneals_the_learning_rate_over_the_epochs():
    from latentode.training import Callback

    class RecordLR(Callback):
        def __init__(self) -> None:
            self.lrs: list[float] = []

        def on_epoch_end(self, trainer, logs) -> None:
            self.lrs.append(trainer.optimizer.param_groups[0]["lr"])

    record = RecordLR()
    FFJORDDensity(
        hidden_dims=(8,),
        method="rk4",
        lr=1e-2,
        lr_schedule="cosine",
        weight_decay=1e-4,
        max_epochs=4,
        batch_size=100,
        early_stopping=False,
        random_state=0,
        callbacks=[record],
    ).fit(_two_blobs(200, 9))
    # Two steps per epoch: the last step of epoch e is at progress (2e - 1) / 8.
    expected = [
        1e-2 * (0.01 + 0.99 * (1 + np.cos(np.pi * (2 * e - 1) / 8)) / 2) for e in (1, 2, 3, 4)
    ]
    np.testing.assert_allclose(record.lrs, expected, rtol=1e-6)


def test_invalid_schedule_and_weight_decay_raise_verbatim_messages():
    x = _two_blobs(50, 8)
    with pytest.raises(ParameterError) as info:
        FFJORDDensity(lr_schedule="step").fit(x)
    assert str(info.value) == (
        "The 'lr_schedule' parameter of FFJORDDensity must be a str among "
        "['constant', 'cosine']. Got 'step' instead."
    )
    with pytest.raises(ParameterError) as info:
        FFJORDDensity(weight_decay=-1.0).fit(x)
    assert str(info.value) == (
        "The 'weight_decay' parameter of FFJORDDensity must be a float in the range "
        "[0, inf). Got -1.0 instead."
    )


def test_eval_method_scores_with_its_own_solver_and_is_validated():
    x = _two_blobs(200, 10)
    est = FFJORDDensity(
        hidden_dims=(8,), method="rk4", n_substeps=2, max_epochs=2, random_state=0
    ).fit(x)
    default = est.score_samples(x[:20])  # None after fixed-step training: dopri5
    est.set_params(eval_method="dopri5")
    np.testing.assert_array_equal(est.score_samples(x[:20]), default)
    est.set_params(eval_method="rk4")
    fixed = est.score_samples(x[:20])
    est.set_params(eval_method="dopri5", eval_rtol=1e-6, eval_atol=1e-6)
    exact = est.score_samples(x[:20])
    # The rk4 map (2 steps) and the ODE's exact flow give different log-densities.
    assert not np.allclose(exact, fixed, rtol=0, atol=1e-7)
    assert est.module_.blocks[0].solver.method == "rk4"  # training solver restored
    with pytest.raises(ParameterError) as info:
        FFJORDDensity(eval_method="rk45").fit(x)
    assert str(info.value).startswith(
        "The 'eval_method' parameter of FFJORDDensity must be a str among ["
    )
    assert str(info.value).endswith(" or None. Got 'rk45' instead.")


def test_feature_names_survive_save_and_load(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    monkeypatch.setitem(ESTIMATORS, "FFJORDDensity", FFJORDDensity)
    frame = pd.DataFrame(_two_blobs(80, 6), columns=["glucose", "lactate"])
    est = FFJORDDensity(hidden_dims=(8,), max_epochs=1, random_state=0).fit(frame)
    loaded = latentode.load(est.save(tmp_path / "model"))
    assert list(loaded.feature_names_in_) == ["glucose", "lactate"]
    # The loaded model keeps checking column names, as the fitted one does.
    with pytest.raises(ValueError, match="feature names"):
        loaded.score_samples(frame.rename(columns={"lactate": "ph"}))


# ----------------------------------------------------------------------- budget rule
def test_automatic_budget_counts_optimiser_steps_not_epochs():
    from latentode.estimators.density._estimator import budget_epochs

    assert budget_epochs("auto", "auto", 1) == (2000, 80)  # 450 rows, batch 512
    assert budget_epochs("auto", "auto", 8) == (250, 10)  # 4,000 rows: as before
    assert budget_epochs("auto", "auto", 100) == (100, 10)  # large data: at least 100 / 10
    assert budget_epochs(7, 3, 1) == (7, 3)  # ints are honoured as given


def test_small_data_fit_gets_the_steps_budget_and_records_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2))
    est = FFJORDDensity(hidden_dims=(8,), method="rk4", random_state=0, max_time=3).fit(x)
    assert (est.max_epochs_, est.patience_) == (2000, 80)  # one step an epoch
    assert est.n_epochs_ > 14  # the old 100-epoch / patience-10 rule stopped by ~14
    fixed = FFJORDDensity(hidden_dims=(8,), method="rk4", max_epochs=3, random_state=0).fit(x)
    assert (fixed.max_epochs_, fixed.patience_, fixed.n_epochs_) == (3, 80, 3)


def test_budget_parameters_reject_other_strings():
    with pytest.raises(ParameterError, match="max_epochs"):
        FFJORDDensity(max_epochs="long").fit(np.zeros((10, 2)))
    with pytest.raises(ParameterError, match="patience"):
        FFJORDDensity(patience=0).fit(np.zeros((10, 2)))
