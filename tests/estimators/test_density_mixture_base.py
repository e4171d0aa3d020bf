"""FFJORDDensity(base="gmm"): a BIC-chosen Gaussian mixture as the flow's base."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture

import latentode
from latentode.estimators.density import FFJORDDensity
from latentode.nn.mixture import GaussianMixtureBase


def _three_blobs(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[-3.0, 0.0], [0.0, 3.0], [3.0, -1.0]])
    return centres[rng.integers(0, 3, n)] + rng.normal(scale=0.4, size=(n, 2))


@pytest.fixture(scope="module")
def fitted() -> FFJORDDensity:
    torch.set_num_threads(1)
    params = dict(hidden_dims=(16, 16), max_epochs=3, batch_size=256, eval_rtol=1e-4)
    return FFJORDDensity(base="gmm", random_state=0, **params).fit(_three_blobs(1500, 0))


def test_mixture_log_prob_matches_scikit_learn_and_its_samples_follow_it() -> None:
    x = _three_blobs(600, 1)
    gm = GaussianMixture(3, covariance_type="full", random_state=0).fit(x)
    base = GaussianMixtureBase(3, 2).set_parameters(gm.weights_, gm.means_, gm.covariances_)
    grid = torch.tensor(_three_blobs(50, 2), dtype=torch.float64)
    np.testing.assert_allclose(
        base.double().log_prob(grid).numpy(), gm.score_samples(grid.numpy()), rtol=1e-6
    )
    draws = base.sample(20_000, torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(draws.mean(0), (gm.weights_ @ gm.means_), atol=0.05)


def test_the_base_is_the_mixture_of_every_row_validation_rows_too(fitted: FFJORDDensity) -> None:
    # The BIC mixture of all 1,500 standardised rows, not of the 90 % the flow trains on.
    z = (_three_blobs(1500, 0) - fitted.mean_) / fitted.scale_
    gm = GaussianMixture(3, covariance_type="full", random_state=fitted.seed_, reg_covar=1e-4)
    gm.fit(z)
    order = np.argsort(gm.means_[:, 0])
    base = fitted.module_.base
    got = base.means.double().numpy()
    np.testing.assert_allclose(got[np.argsort(got[:, 0])], gm.means_[order], atol=1e-5)
    weights = base.log_weights.double().exp().numpy()
    np.testing.assert_allclose(np.sort(weights), np.sort(gm.weights_), atol=1e-6)


def test_a_mixture_based_flow_integrates_to_one_on_a_grid(fitted: FFJORDDensity) -> None:
    lo, hi = fitted.mean_ - 5 * fitted.scale_, fitted.mean_ + 5 * fitted.scale_
    gx, gy = np.linspace(lo[0], hi[0], 140), np.linspace(lo[1], hi[1], 140)
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    mass = np.exp(fitted.score_samples(grid)).sum() * (gx[1] - gx[0]) * (gy[1] - gy[0])
    assert mass == pytest.approx(1.0, abs=0.03)


def test_the_fit_starts_from_the_mixture_and_beats_a_normal_base(fitted: FFJORDDensity) -> None:
    train, test = _three_blobs(1500, 0), _three_blobs(1500, 3)
    assert fitted.n_base_components_ == 3  # BIC finds the three blobs
    gm = GaussianMixture(3, covariance_type="full", random_state=0).fit(train)
    # the flow starts at the identity, so three epochs keep it near the mixture's fit
    assert fitted.score(test) == pytest.approx(gm.score(test), abs=0.05)
    normal = FFJORDDensity(
        base="normal",
        hidden_dims=(16, 16),
        max_epochs=3,
        batch_size=256,
        eval_rtol=1e-4,
        random_state=0,
    ).fit(train)
    assert fitted.score(test) > normal.score(test) + 0.2


def test_samples_come_from_the_mixture_base(fitted: FFJORDDensity) -> None:
    a = fitted.sample(3000, random_state=1)
    np.testing.assert_array_equal(a, fitted.sample(3000, random_state=1))
    # each blob gets about a third of the draws
    centres = np.array([[-3.0, 0.0], [0.0, 3.0], [3.0, -1.0]])
    nearest = np.argmin(((a[:, None, :] - centres) ** 2).sum(-1), axis=1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=3) / 3000, 1 / 3, atol=0.05)


def test_save_load_and_pickle_keep_the_base(fitted: FFJORDDensity, tmp_path) -> None:
    x = _three_blobs(40, 4)
    expected = fitted.score_samples(x)
    loaded = latentode.load(fitted.save(tmp_path / "model"))
    assert loaded.base == "gmm" and loaded.n_base_components_ == 3
    np.testing.assert_array_equal(loaded.score_samples(x), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).score_samples(x), expected)


def _spirals(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta = np.sqrt(rng.uniform(size=n)) * 3 * np.pi
    arm = np.stack([-np.cos(theta) * theta, np.sin(theta) * theta], axis=1)
    sign = np.where(rng.uniform(size=n) < 0.5, 1.0, -1.0)[:, None]
    return arm * sign + rng.normal(scale=0.3, size=(n, 2))


def test_the_base_size_is_the_one_of_best_cross_validated_likelihood() -> None:
    from sklearn.model_selection import KFold

    from latentode.estimators.density._mixture import BASE_COMPONENTS, CV_FOLDS, base_mixture

    x = _spirals(1000, 1)
    x = (x - x.mean(0)) / x.std(0)
    train, val = x[:900], x[900:]
    sizes = [k for k in BASE_COMPONENTS if 20 * k <= 1000]
    # the rule before, the validation rows' likelihood alone, picks another size here
    held_out = [
        GaussianMixture(k, covariance_type="full", random_state=0, reg_covar=1e-4)
        .fit(train)
        .score(val)
        for k in sizes
    ]
    folds = list(KFold(CV_FOLDS, shuffle=True, random_state=0).split(x))

    def cv_score(k: int) -> float:
        return np.mean(
            [
                GaussianMixture(k, covariance_type="full", random_state=0, reg_covar=1e-4)
                .fit(x[a])
                .score(x[b])
                for a, b in folds
            ]
        )

    best = sizes[int(np.argmax([cv_score(k) for k in sizes]))]
    chosen = base_mixture(train, val, 0)
    assert chosen.n_components == best != sizes[int(np.argmax(held_out))]
    # fitted on every row, validation rows too
    refit = GaussianMixture(best, covariance_type="full", random_state=0, reg_covar=1e-4).fit(x)
    np.testing.assert_allclose(chosen.means_, refit.means_)
    # BIC, which picks fewer components on this curve, is not what chose
    bic = min(
        (GaussianMixture(k, covariance_type="full", random_state=0).fit(x) for k in sizes),
        key=lambda gm: gm.bic(x),
    )
    assert bic.n_components < best


def test_few_rows_choose_the_base_size_by_bic() -> None:
    from latentode.estimators.density._mixture import CV_FOLDS, base_mixture

    x = _three_blobs(20 * CV_FOLDS - 1, 0)
    chosen = base_mixture(x, None, 0)
    bics = {
        k: GaussianMixture(k, covariance_type="full", random_state=0, reg_covar=1e-4).fit(x).bic(x)
        for k in (1, 2, 3, 4)
    }
    assert chosen.n_components == min(bics, key=bics.get) == 3
