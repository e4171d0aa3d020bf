"""The mixture base of ``FFJORDDensity(base="gmm")``: its size and its fit."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BASE_COMPONENTS", "base_mixture"]

#: ``base="gmm"`` chooses the mixture's number of components (full covariances) among
#: these (at most one component per 20 rows): by the validation rows' likelihood under
#: early stopping, else by BIC.
BASE_COMPONENTS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64)


def base_mixture(train: np.ndarray, val: np.ndarray | None, seed: int) -> Any:
    """The full-covariance :class:`~sklearn.mixture.GaussianMixture` of the base: its
    number of components among :data:`BASE_COMPONENTS` (at most one per 20 rows) the one
    whose mixture of ``train`` gives ``val`` the highest likelihood — or, without ``val``,
    the lowest BIC — fitted on every row."""
    from sklearn.mixture import GaussianMixture

    rows = train if val is None else np.concatenate([train, val])
    sizes = [k for k in BASE_COMPONENTS if k == 1 or 20 * k <= len(rows)]

    def mixture(k: int, x: np.ndarray) -> Any:
        return GaussianMixture(k, covariance_type="full", random_state=seed, reg_covar=1e-4).fit(x)

    if val is None:
        fits = [mixture(k, rows) for k in sizes]
        return min(fits, key=lambda gm: gm.bic(rows))
    held_out = [mixture(k, train).score(val) for k in sizes if k <= len(train)]
    return mixture(sizes[int(np.argmax(held_out))], rows)
