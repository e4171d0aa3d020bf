"""Predictive bands from residuals: :class:`ResidualBand` (scale growing with the gap)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls
from scipy.stats import norm

__all__ = ["ResidualBand"]

_GRID = np.linspace(0.0, 1.0, 1001)


@dataclass(frozen=True, eq=False)
class ResidualBand:
    """Per-feature predictive spread ``scale(gap) · z`` around a point forecast.

    ``scale(gap)² = a + b · gap`` (a random-walk variance: the standard deviation grows
    with the square root of the time ``gap`` to the nearest observation used), and ``z``
    follows the empirical distribution of the standardised residuals the band was fitted
    on (or a standard normal), so tails and skew of real residuals carry over.

    Parameters
    ----------
    a, b : numpy.ndarray of shape (n_features,)
        Variance intercept and slope per feature (scaled units, normalised time).
    z_quantiles : numpy.ndarray of shape (1001, n_features) or None
        Quantiles of the standardised residuals at levels ``linspace(0, 1, 1001)``;
        None means standard normal.
    """

    a: np.ndarray
    b: np.ndarray
    z_quantiles: np.ndarray | None = None

    @classmethod
    def fit(
        cls, gaps: list[np.ndarray], residuals: list[np.ndarray], *, min_count: int = 20
    ) -> ResidualBand:
        """Fit per feature ``d`` from ``gaps[d]`` and ``residuals[d]`` (1-D, aligned).

        A feature with fewer than ``min_count`` residuals gets ``a = 1, b = 0`` (one
        training standard deviation) and a standard-normal ``z``.
        """
        n = len(gaps)
        a, b = np.ones(n), np.zeros(n)
        zq = np.tile(norm.ppf(np.clip(_GRID, 1e-4, 1 - 1e-4))[:, None], (1, n))
        for d, (g, r) in enumerate(zip(gaps, residuals)):
            g = np.asarray(g, dtype=np.float64)
            r = np.asarray(r, dtype=np.float64)
            ok = np.isfinite(g) & np.isfinite(r)
            g, r = g[ok], r[ok]
            if r.size < min_count:
                continue
            r2 = np.minimum(r**2, np.quantile(r**2, 0.99))  # winsorised: outliers go to z
            coef, _ = nnls(np.column_stack([np.ones_like(g), g]), r2)
            a[d] = max(coef[0], 1e-6 * max(float(np.mean(r2)), 1e-12), 1e-12)
            b[d] = coef[1]
            z = r / np.sqrt(a[d] + b[d] * g)
            zq[:, d] = np.quantile(z, _GRID)
        return cls(a=a, b=b, z_quantiles=zq)

    @classmethod
    def gaussian(cls, n_features: int) -> ResidualBand:
        """A band whose ``z`` is standard normal and whose scale the caller supplies."""
        return cls(a=np.ones(n_features), b=np.zeros(n_features), z_quantiles=None)

    def scale(self, gap: np.ndarray) -> np.ndarray:
        """``(n, n_features)`` scales for ``(n, n_features)`` gaps (inf gap → scale 1)."""
        gap = np.asarray(gap, dtype=np.float64)
        out = np.sqrt(self.a + self.b * np.where(np.isfinite(gap), gap, 0.0))
        return np.where(np.isfinite(gap), out, 1.0)

    def quantile(self, level: float) -> np.ndarray:
        """``(n_features,)`` quantile of ``z`` at ``level`` in (0, 1)."""
        if self.z_quantiles is None:
            return np.full(self.a.shape, norm.ppf(level))
        return np.array(
            [np.interp(level, _GRID, self.z_quantiles[:, d]) for d in range(self.a.size)]
        )

    def draw(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """``(*shape, n_features)`` draws of ``z``."""
        if self.z_quantiles is None:
            return rng.standard_normal((*shape, self.a.size))
        u = rng.random((*shape, self.a.size))
        out = np.empty_like(u)
        for d in range(self.a.size):
            out[..., d] = np.interp(u[..., d], _GRID, self.z_quantiles[:, d])
        return out
