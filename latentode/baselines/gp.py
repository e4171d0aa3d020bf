"""Per-series Gaussian processes with pooled hyper-parameters: :class:`GPBaseline`."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Kernel, WhiteKernel

from latentode.baselines._base import BaselineForecaster, check_param
from latentode.baselines._residuals import ResidualBand
from latentode.data import IrregularDataset

__all__ = ["GPBaseline"]


def _kernel() -> Kernel:
    return (
        ConstantKernel(0.5, (1e-4, 1e2))
        + ConstantKernel(0.5, (1e-4, 1e2)) * RBF(0.5, (1e-3, 1e3))
        + WhiteKernel(0.1, (1e-6, 1e1))
    )


class GPBaseline(BaselineForecaster):
    """One Gaussian process per series and feature, hyper-parameters shared per feature.

    Kernel (standardised values, normalised time): ``C₀ + C₁ · RBF(ℓ) + White(σ²)`` —
    ``C₀`` is a random per-series level (so a series' own observations set its mean), the
    RBF its smooth deviations, the white term measurement noise. ``fit`` picks
    ``(C₀, C₁, ℓ, σ²)`` per feature by maximising the *summed* log marginal likelihood of
    the training series (type-II maximum likelihood pooled over series: one series of a
    handful of points cannot identify a length scale). Prediction conditions the GP on
    each series' history; the band is the exact Gaussian predictive (mean ± std including
    the noise term).

    Parameters
    ----------
    max_points : int, default=50
        Cost bound: a series' GP conditions on its last ``max_points`` observations of a
        feature (Cholesky cost O(max_points³) per series and feature).
    max_fit_series : int, default=200
        Training series (drawn at random) whose likelihood is pooled in ``fit``.
    id_col, time_col : str, default="unique_id", "ds"
    feature_cols : sequence of str or None, default=None
    time_unit : str or None, default=None
    random_state : int or None, default=None
        Seeds the draw of ``max_fit_series`` and ``sample``.

    Attributes
    ----------
    data_ : LongFrameEncoder
    feature_cols_ : tuple of str
    kernels_ : list of sklearn Kernel
        The fitted kernel of each feature.
    band_ : ResidualBand
        Standard-normal ``z`` (the GP's own std is the scale).
    """

    def __init__(
        self,
        *,
        max_points: int = 50,
        max_fit_series: int = 200,
        id_col: str = "unique_id",
        time_col: str = "ds",
        feature_cols: Sequence[str] | None = None,
        time_unit: str | None = None,
        random_state: int | None = None,
    ) -> None:
        self.max_points = max_points
        self.max_fit_series = max_fit_series
        self.id_col = id_col
        self.time_col = time_col
        self.feature_cols = feature_cols
        self.time_unit = time_unit
        self.random_state = random_state

    def _check_params(self) -> None:
        check_param(self, "max_points", numbers.Integral, 2)
        check_param(self, "max_fit_series", numbers.Integral, 1)

    def _points(self, s, d: int) -> tuple[np.ndarray, np.ndarray]:
        obs = s.mask[:, d]
        t, v = s.times[obs], s.values[obs, d].astype(np.float64)
        return t[-self.max_points :], v[-self.max_points :]

    def _gp(self, kernel: Kernel, t: np.ndarray, v: np.ndarray) -> GaussianProcessRegressor:
        gp = GaussianProcessRegressor(kernel=kernel, optimizer=None, normalize_y=False)
        return gp.fit(t[:, None], v)

    def _fit(self, dataset: IrregularDataset) -> None:
        rng = np.random.default_rng(self.random_state)
        series = list(dataset)
        pick = rng.permutation(len(series))[: self.max_fit_series]
        self.kernels_ = []
        for d in range(dataset.n_features):
            gps = []
            for i in pick:
                t, v = self._points(series[i], d)
                if t.size >= 2:
                    gps.append(self._gp(_kernel(), t, v))
            kernel = _kernel()
            if gps:
                kernel = kernel.clone_with_theta(self._pooled_theta(gps, kernel))
            self.kernels_.append(kernel)
        self.band_ = ResidualBand.gaussian(dataset.n_features)

    @staticmethod
    def _pooled_theta(gps: list[GaussianProcessRegressor], kernel: Kernel) -> np.ndarray:
        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            total, grad = 0.0, np.zeros_like(theta)
            for gp in gps:
                lml, g = gp.log_marginal_likelihood(theta, eval_gradient=True, clone_kernel=False)
                total += lml
                grad += g
            return -total, -grad

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = minimize(
                loss,
                kernel.theta,
                jac=True,
                method="L-BFGS-B",
                bounds=kernel.bounds,
                options={"maxiter": 100},
            )
        return res.x

    def _locate(self, dataset, queries):
        locs, scales = [], []
        for s, q in zip(dataset, queries):
            loc = np.zeros((q.size, dataset.n_features))
            scale = np.ones((q.size, dataset.n_features))
            for d, kernel in enumerate(self.kernels_):
                t, v = self._points(s, d)
                if t.size == 0:
                    prior = float(np.sqrt(kernel.diag(np.zeros((1, 1)))[0]))
                    scale[:, d] = prior
                    continue
                if q.size:
                    mean, std = self._gp(kernel, t, v).predict(q[:, None], return_std=True)
                    loc[:, d], scale[:, d] = mean, std
            locs.append(loc)
            scales.append(scale)
        return locs, scales
