"""Per-feature standardisation that ignores unobserved (NaN) entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

__all__ = ["FeatureScaler"]

ArrayT = TypeVar("ArrayT")


@dataclass(frozen=True, eq=False)
class FeatureScaler:
    """Fitted per-feature mean and standard deviation (NaN-aware).

    Build one with :meth:`fit`. A feature whose standard deviation is 0 (or not finite)
    gets ``std = 1``; a feature with no observed value gets ``mean = 0`` and ``std = 1``.

    Attributes
    ----------
    mean : numpy.ndarray of shape (n_features,), float64
        Per-feature mean of the observed values (read-only; alias ``mean_``).
    std : numpy.ndarray of shape (n_features,), float64, all > 0
        Per-feature standard deviation (ddof=0) of the observed values (read-only;
        alias ``scale_``).
    """

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        std = np.asarray(self.std, dtype=np.float64).reshape(-1)
        if mean.shape != std.shape:
            raise ValueError(
                "FeatureScaler 'mean' and 'std' must have the same length; "
                f"got {mean.shape[0]} and {std.shape[0]}."
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ValueError(
                "FeatureScaler needs finite means and finite, positive stds; "
                f"got mean={mean.tolist()} and std={std.tolist()}."
            )
        mean.setflags(write=False)
        std.setflags(write=False)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def mean_(self) -> np.ndarray:
        """Alias of ``mean`` (scikit-learn ``StandardScaler`` naming)."""
        return self.mean

    @property
    def scale_(self) -> np.ndarray:
        """Alias of ``std`` (scikit-learn ``StandardScaler`` naming)."""
        return self.std

    @property
    def n_features(self) -> int:
        """Number of features D."""
        return int(self.mean.shape[0])

    @classmethod
    def fit(cls, values: np.ndarray) -> FeatureScaler:
        """Fit means and standard deviations, ignoring NaN.

        Parameters
        ----------
        values : array-like of shape (n_rows, n_features)
            Raw feature values; NaN marks an unobserved entry. Must not hold infinities.

        Returns
        -------
        FeatureScaler
            The fitted scaler.

        Raises
        ------
        ValueError
            If ``values`` is not 2-D or holds infinities.
        """
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"Expected a 2-D array (n_rows, n_features); got shape {x.shape}.")
        if np.isinf(x).any():
            raise ValueError(
                f"Expected finite or NaN values; got {int(np.isinf(x).sum())} infinite value(s)."
            )
        observed = ~np.isnan(x)
        count = observed.sum(axis=0)
        filled = np.where(observed, x, 0.0)
        safe = np.maximum(count, 1)
        mean = filled.sum(axis=0) / safe
        centred = np.where(observed, x - mean, 0.0)
        std = np.sqrt((centred**2).sum(axis=0) / safe)
        mean = np.where(count > 0, mean, 0.0)
        std = np.where((count > 0) & np.isfinite(std) & (std > 0), std, 1.0)
        return cls(mean=mean, std=std)

    def _check_last_axis(self, shape: tuple[int, ...]) -> None:
        if len(shape) == 0 or shape[-1] != self.n_features:
            raise ValueError(
                f"Expected an array whose last axis has {self.n_features} features; "
                f"got shape {tuple(shape)}."
            )

    def _params(self, values: Any) -> tuple[Any, Any]:
        # torch tensors keep their dtype and device; everything else becomes numpy float64.
        if type(values).__module__.startswith("torch"):
            return (
                values.new_tensor(self.mean.copy()),
                values.new_tensor(self.std.copy()),
            )
        return self.mean, self.std

    def transform(self, values: ArrayT) -> ArrayT:
        """Standardise: ``(values - mean) / std`` along the last axis (NaN stays NaN).

        Parameters
        ----------
        values : numpy.ndarray or torch.Tensor of shape (..., n_features)

        Returns
        -------
        numpy.ndarray (float64) or torch.Tensor (same dtype / device) of shape (..., n_features)
        """
        x = _as_array(values)
        self._check_last_axis(tuple(x.shape))
        mean, std = self._params(x)
        return (x - mean) / std

    def inverse_transform(self, values: ArrayT) -> ArrayT:
        """Undo :meth:`transform`: ``values * std + mean`` along the last axis.

        Parameters
        ----------
        values : numpy.ndarray or torch.Tensor of shape (..., n_features)

        Returns
        -------
        numpy.ndarray (float64) or torch.Tensor (same dtype / device) of shape (..., n_features)
        """
        x = _as_array(values)
        self._check_last_axis(tuple(x.shape))
        mean, std = self._params(x)
        return x * std + mean

    def inverse_transform_scale(self, std_values: ArrayT) -> ArrayT:
        """Map standard deviations (noise scales) to raw units: ``std_values * std``.

        Parameters
        ----------
        std_values : numpy.ndarray or torch.Tensor of shape (..., n_features)

        Returns
        -------
        numpy.ndarray (float64) or torch.Tensor (same dtype / device) of shape (..., n_features)
        """
        x = _as_array(std_values)
        self._check_last_axis(tuple(x.shape))
        _, std = self._params(x)
        return x * std

    def to_dict(self) -> dict[str, list[float]]:
        """Return the fitted state as a dict of JSON types."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureScaler:
        """Rebuild a scaler written by :meth:`to_dict`."""
        return cls(mean=np.asarray(d["mean"], dtype=np.float64), std=np.asarray(d["std"]))


def _as_array(values: Any) -> Any:
    if type(values).__module__.startswith("torch"):
        return values
    return np.asarray(values, dtype=np.float64)
