"""2-D toy densities of the FFJORD paper (Grathwohl et al., 2019), written from their definitions.

Each generator returns a float64 array of shape ``(n, 2)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "TOY_SETS",
    "TRUE_NLL",
    "checkerboard",
    "eight_gaussians",
    "pinwheel",
    "two_moons",
]


def two_moons(n: int, rng: np.random.Generator) -> np.ndarray:
    """Two interleaved half circles (noise 0.1), scaled by 2 and shifted to centre them."""
    n_out = n // 2
    n_in = n - n_out
    a = rng.uniform(0, np.pi, n_out)
    b = rng.uniform(0, np.pi, n_in)
    outer = np.stack([np.cos(a), np.sin(a)], axis=1)
    inner = np.stack([1 - np.cos(b), 1 - np.sin(b) - 0.5], axis=1)
    x = np.concatenate([outer, inner]) + rng.normal(scale=0.1, size=(n, 2))
    x = x * 2 + np.array([-1.0, -0.2])
    return x[rng.permutation(n)]


def eight_gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    """Centres at radius 4 in the 8 compass directions, std 0.5, everything divided by 1.414."""
    angles = np.arange(8) * np.pi / 4
    centres = 4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x = centres[rng.integers(0, 8, n)] + rng.normal(scale=0.5, size=(n, 2))
    return x / 1.414


def checkerboard(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform on the 8 dark squares (side 2) of a 4 × 4 board on ``[-4, 4]²``."""
    x1 = rng.uniform(-2, 2, n)
    x2 = rng.uniform(0, 1, n) - rng.integers(0, 2, n) * 2.0
    x2 = x2 + np.floor(x1) % 2
    return np.stack([x1, x2], axis=1) * 2


def pinwheel(n: int, rng: np.random.Generator) -> np.ndarray:
    """Five arms: radial std 0.3, tangential std 0.1, twist rate 0.25 (scaled by 2)."""
    n_classes, radial_std, tangential_std, rate = 5, 0.3, 0.1, 0.25
    rads = np.linspace(0, 2 * np.pi, n_classes, endpoint=False)
    labels = rng.integers(0, n_classes, n)
    feats = rng.normal(size=(n, 2)) * np.array([radial_std, tangential_std])
    feats[:, 0] += 1.0
    angles = rads[labels] + rate * np.exp(feats[:, 0])
    c, s = np.cos(angles), np.sin(angles)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], axis=1)  # (n, 2, 2)
    return 2 * np.einsum("ni,nij->nj", feats, rot)


TOY_SETS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "two_moons": two_moons,
    "eight_gaussians": eight_gaussians,
    "checkerboard": checkerboard,
    "pinwheel": pinwheel,
}


def _mixture_nll(x: np.ndarray, centres: np.ndarray, std: float) -> float:
    """Mean NLL of ``x`` under the equal-weight isotropic Gaussian mixture (chunked)."""
    out = []
    for chunk in np.array_split(x, max(1, len(x) // 500)):
        sq = ((chunk[:, None, :] - centres[None]) ** 2).sum(-1)
        out.append(logsumexp(-sq / (2 * std**2), axis=1))
    logp = np.concatenate(out) - np.log(len(centres)) - np.log(2 * np.pi * std**2)
    return float(-logp.mean())


def two_moons_nll(x: np.ndarray) -> float:
    """Generating density's mean NLL: the angle integral by a 4,001-point rule per moon."""
    a = np.linspace(0, np.pi, 4001)
    outer = np.stack([np.cos(a), np.sin(a)], axis=1)
    inner = np.stack([1 - np.cos(a), 1 - np.sin(a) - 0.5], axis=1)
    centres = np.concatenate([outer, inner]) * 2 + np.array([-1.0, -0.2])
    return _mixture_nll(x, centres, 0.2)


def eight_gaussians_nll(x: np.ndarray) -> float:
    angles = np.arange(8) * np.pi / 4
    centres = 4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1) / 1.414
    return _mixture_nll(x, centres, 0.5 / 1.414)


def checkerboard_nll(x: np.ndarray) -> float:
    """Uniform on 8 squares of area 4 (every generated point lies on one)."""
    return float(np.log(32.0))


#: Mean NLL of points under the density that generated them (pinwheel: not computed).
TRUE_NLL: dict[str, Callable[[np.ndarray], float]] = {
    "two_moons": two_moons_nll,
    "eight_gaussians": eight_gaussians_nll,
    "checkerboard": checkerboard_nll,
}
