"""Per-feature value transforms a user declares (``feature_transforms``), inverted on output.

A transformed feature is modelled as ``y = T(x)``: the encoder standardises ``y`` and the
model's Gaussian observation noise lives there, so ``x`` gets the pushed-forward law —
log-normal for ``"log"``, a two-sided heavy tail for ``"asinh"``, bounded for ``"logit"``.
Predictive draws map back through ``T⁻¹``, and quantiles are taken in transformed units and
mapped back (``T`` is increasing, so they commute with it); densities of ``x`` add
``log T'(x)`` per value (:meth:`FeatureTransforms.log_derivative`).

====== ================= ===========================================================
name   domain            use
====== ================= ===========================================================
log    x > 0             skewed positive values: lab values, concentrations, counts
log1p  x > -1            the same with zeros (``log(1 + x)``)
asinh  any x             signed heavy tails (delays, returns):
                         ``asinh((x - median) / MAD)`` with the training values'
                         median and median absolute deviation, so linear within about
                         one MAD of the median and logarithmic beyond, in any unit
logit  0 < x < 1         proportions and fractions (saturation, rates)
====== ================= ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["TRANSFORMS", "FeatureTransforms"]

#: The transforms ``feature_transforms`` accepts, with the open interval of x each needs.
TRANSFORMS: dict[str, tuple[float, float]] = {
    "log": (0.0, np.inf),
    "log1p": (-1.0, np.inf),
    "asinh": (-np.inf, np.inf),
    "logit": (0.0, 1.0),
}


@dataclass(frozen=True)
class FeatureTransforms:
    """One transform name (or None: identity) per feature, in the encoder's column order,
    with the location and scale ``asinh`` applies first (0 and 1 for the others)."""

    kinds: tuple[str | None, ...]
    loc: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.kinds)
        object.__setattr__(self, "loc", tuple(self.loc) or (0.0,) * n)
        object.__setattr__(self, "scale", tuple(self.scale) or (1.0,) * n)

    @classmethod
    def fit(
        cls,
        transforms: Mapping[str, str] | None,
        feature_cols: Sequence[str],
        values: np.ndarray | None = None,
    ) -> FeatureTransforms:
        """Check ``transforms`` (feature column → name) against the feature columns, and
        take ``asinh``'s location and scale from the raw ``values`` ``(n, D)`` (NaN:
        unobserved): their median and median absolute deviation (else their standard
        deviation, else 1)."""
        transforms = dict(transforms or {})
        unknown = sorted(set(transforms) - set(feature_cols), key=str)
        if unknown:
            raise ValueError(
                f"'feature_transforms' names {unknown}, which are not feature columns of "
                f"the frame passed to fit (features: {list(feature_cols)})."
            )
        bad = {c: k for c, k in transforms.items() if k not in TRANSFORMS}
        if bad:
            raise ValueError(
                f"'feature_transforms' must map feature columns to one of "
                f"{sorted(TRANSFORMS)}. Got {bad}."
            )
        kinds = tuple(transforms.get(c) for c in feature_cols)
        loc, scale = [0.0] * len(kinds), [1.0] * len(kinds)
        for d, kind in enumerate(kinds):
            if kind != "asinh" or values is None:
                continue
            x = values[:, d][~np.isnan(values[:, d])]
            if len(x):
                loc[d] = float(np.median(x))
                spread = float(np.median(np.abs(x - loc[d]))) or float(np.std(x))
                scale[d] = spread if spread > 0 and np.isfinite(spread) else 1.0
        return cls(kinds, tuple(loc), tuple(scale))

    @property
    def any(self) -> bool:
        return any(k is not None for k in self.kinds)

    def to_dict(self, feature_cols: Sequence[str]) -> dict[str, Any]:
        """``{column: name}`` for the transformed columns, and ``asinh``'s parameters."""
        cols = [c for c, k in zip(feature_cols, self.kinds) if k is not None]
        out: dict[str, Any] = {c: k for c, k in zip(feature_cols, self.kinds) if k is not None}
        params = {
            c: [self.loc[d], self.scale[d]]
            for d, c in enumerate(feature_cols)
            if c in cols and self.kinds[d] == "asinh"
        }
        return {"kinds": out, "asinh": params}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], feature_cols: Sequence[str]) -> FeatureTransforms:
        """Rebuild transforms written by :meth:`to_dict`."""
        fitted = cls.fit(d.get("kinds", {}), feature_cols)
        params = d.get("asinh", {})
        loc = tuple(float(params[c][0]) if c in params else 0.0 for c in feature_cols)
        scale = tuple(float(params[c][1]) if c in params else 1.0 for c in feature_cols)
        return cls(fitted.kinds, loc, scale)

    # ------------------------------------------------------------------ numpy, raw values
    def out_of_domain(self, values: np.ndarray) -> np.ndarray:
        """Bool ``(n, D)``: observed raw values outside their transform's domain."""
        bad = np.zeros(values.shape, dtype=bool)
        for d, kind in enumerate(self.kinds):
            if kind is None:
                continue
            lo, hi = TRANSFORMS[kind]
            x = values[:, d]
            with np.errstate(invalid="ignore"):
                bad[:, d] = ~np.isnan(x) & ~((x > lo) & (x < hi))
        return bad

    def forward(self, values: np.ndarray) -> np.ndarray:
        """``T(x)`` per feature of raw ``values`` ``(..., D)`` (NaN stays NaN)."""
        out = np.array(values, dtype=np.float64, copy=True)
        for d, kind in enumerate(self.kinds):
            if kind is not None:
                out[..., d] = self._forward(d, out[..., d])
        return out

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """``T⁻¹(y)`` per feature of ``values`` ``(..., D)`` in transformed units."""
        out = np.array(values, dtype=np.float64, copy=True)
        for d, kind in enumerate(self.kinds):
            if kind is not None:
                out[..., d] = self._inverse(d, out[..., d])
        return out

    def quantile(self, feature: int, draws: np.ndarray, levels: Any) -> np.ndarray:
        """``np.quantile(draws, levels, axis=0)`` of one feature's draws in original
        units, interpolated between draws in transformed units: so a band is the
        back-transformed band of the model's units (quantiles commute with ``T``)."""
        if self.kinds[feature] is None:
            return np.quantile(draws, levels, axis=0)
        y = np.quantile(self._forward(feature, draws), levels, axis=0)
        return self._inverse(feature, y)

    def _forward(self, d: int, x: Any) -> Any:
        kind = self.kinds[d]
        with np.errstate(invalid="ignore", divide="ignore"):
            if kind == "log":
                return np.log(x)
            if kind == "log1p":
                return np.log1p(x)
            if kind == "asinh":
                return np.arcsinh((x - self.loc[d]) / self.scale[d])
            return np.log(x) - np.log1p(-x)  # logit

    def _inverse(self, d: int, y: Any) -> Any:
        kind = self.kinds[d]
        with np.errstate(over="ignore"):
            if kind == "log":
                return np.exp(y)
            if kind == "log1p":
                return np.expm1(y)
            if kind == "asinh":
                return self.loc[d] + self.scale[d] * np.sinh(y)
            return 1.0 / (1.0 + np.exp(-y))  # logit

    # ------------------------------------------------------------------ torch
    def log_derivative(self, transformed: torch.Tensor) -> torch.Tensor:
        """``log T'(x)`` per value ``(..., D)``, from ``y = T(x)`` in transformed units
        (0 for a feature without transform): the Jacobian term of a density of ``x``."""
        out = torch.zeros_like(transformed)
        for d, kind in enumerate(self.kinds):
            y = transformed[..., d]
            if kind in ("log", "log1p"):  # T'(x) = 1 / x or 1 / (1 + x) = e^{-y}
                out[..., d] = -y
            elif kind == "asinh":  # T'(x) = 1 / (c sqrt(1 + ((x - a) / c)²)) = 1 / (c cosh y)
                log_cosh = y.abs() + torch.log1p(torch.exp(-2.0 * y.abs())) - np.log(2.0)
                out[..., d] = -log_cosh - np.log(self.scale[d])
            elif kind == "logit":  # T'(x) = 1 / (x (1 - x)), x = sigmoid(y)
                out[..., d] = torch.nn.functional.softplus(y) + torch.nn.functional.softplus(-y)
        return out
