"""How ``LatentODEForecaster`` predicts and scores: one predictive-sampling pass, bounds.

:func:`predictive_samples` draws every series' posterior-sample means and predictive draws
once; the estimator's ``predict``, ``predict_quantiles``, ``predict_interval``, ``sample``
and ``predict_distribution`` (which the MLflow model serves) are column views of that one
:class:`Predictive`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from latentode.batch import IrregularBatch
from latentode.data import FrameLibrary, Interval, LongFrameEncoder, from_pandas
from latentode.data._transforms import FeatureTransforms
from latentode.estimators._seeds import generator, stream_seed
from latentode.estimators._tensors import PaddedSeries, pad_queries
from latentode.exceptions import QueryError
from latentode.nn.noise import standardised_noise

__all__ = [
    "Predictive",
    "check_n_samples",
    "common_noise",
    "cross_fitted_scores",
    "draws_frame",
    "iwae_bounds",
    "predictive_samples",
]

Columns = dict[str, list[np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Predictive:
    """Per series, in original units at its query times: ``means[i]`` ``(S, Q_i, D)`` are
    the posterior samples' observation means (for a feature with a value transform, ``T⁻¹``
    of the mean in transformed units: the median of ``p(x | z)``), ``draws[i]`` add
    observation noise (empty when sampled with ``draws=False``: a view of the means only)."""

    means: list[np.ndarray]
    draws: list[np.ndarray]
    #: The features' value transforms: quantiles are taken in transformed units.
    transforms: FeatureTransforms | None = None

    def _quantile(self, feature: int, draws: np.ndarray, levels: Any) -> np.ndarray:
        if self.transforms is None:
            return np.quantile(draws, levels, axis=0)
        return self.transforms.quantile(feature, draws, levels)

    def mean_columns(self, features: Sequence[str]) -> Columns:
        return {name: [s[..., d].mean(0) for s in self.means] for d, name in enumerate(features)}

    def quantile_columns(self, features: Sequence[str], levels: Sequence[float]) -> Columns:
        """``<feature>_q<level>`` columns, feature by feature."""
        columns: Columns = {}
        for d, name in enumerate(features):
            qs = [self._quantile(d, s[..., d], levels) for s in self.draws]
            for j, level in enumerate(levels):
                columns[f"{name}_q{level:g}"] = [q[j] for q in qs]
        return columns

    def interval_columns(self, features: Sequence[str], bands: Sequence[Interval]) -> Columns:
        """Each central interval's bound columns (``<feature><suffix>``), feature by feature."""
        columns: Columns = {}
        for d, name in enumerate(features):
            for band in bands:
                lo, hi = band.probabilities
                columns[f"{name}{band.lower}"] = [
                    self._quantile(d, s[..., d], lo) for s in self.draws
                ]
                columns[f"{name}{band.upper}"] = [
                    self._quantile(d, s[..., d], hi) for s in self.draws
                ]
        return columns

    def draw_columns(self, features: Sequence[str], k: int) -> Columns:
        """The ``k``-th predictive draw of every series."""
        return {name: [s[k, :, d] for s in self.draws] for d, name in enumerate(features)}


def common_noise(
    seed: int, purpose: str, n_samples: int, latent_dim: int, device: torch.device
) -> tuple[torch.Tensor, torch.Generator]:
    """Common random numbers: one base-noise draw ``(S, 1, latent_dim)`` shared by every
    series (so a series' samples depend neither on its batch-mates nor on its position),
    and the generator to draw further shared noise from.

    Drawn on the CPU and moved to ``device``: a forecast is the same on every device
    (up to floating-point rounding), not one random draw per device type."""
    gen = generator(seed, purpose)
    eps = torch.randn((n_samples, 1, latent_dim), generator=gen).to(device)
    return eps, gen


def observation_noise(
    seed: int, n_samples: int, n_queries: int, n_features: int, device: torch.device
) -> torch.Tensor:
    """Standard normal noise ``(S, 1, Q, D)``, the same for every chunk: query position
    ``q`` always gets the same numbers, whatever ``Q`` is (and whatever the device: drawn
    on the CPU)."""
    gen = generator(seed, "predict_observation")
    z = torch.randn((n_queries, n_samples, n_features), generator=gen).to(device)
    return z.permute(1, 0, 2).unsqueeze(1)


def predictive_samples(
    module: Any,
    padded: PaddedSeries,
    queries: list[np.ndarray],
    n_samples: int,
    *,
    data: LongFrameEncoder,
    time_span: float,
    latent_dim: int,
    seed: int,
    batch_size: int = 256,
    draws: bool = True,
) -> Predictive:
    """Sample each series' predictive distribution at its (normalised) query times;
    ``draws=False`` keeps the means only (what ``predict`` reads), without adding
    observation noise."""
    device = padded.times.device
    eps, _ = common_noise(seed, "predict", n_samples, latent_dim, device)
    df = getattr(module.observation, "df", None)  # Student-t tails where finite
    means_out: list[np.ndarray] = []
    draws_out: list[np.ndarray] = []
    with torch.no_grad():
        for index, context in padded.chunks(batch_size):
            q, counts = pad_queries(
                [queries[i] * time_span for i in index.tolist()], context.times[:, 0], device
            )
            with padded.naming(index):
                means, std = module.sample_predictive(context, q, n_samples, eps=eps)
            # Observation noise is shared across series too (common random numbers): drawn
            # afresh for every chunk, query position by query position, so a series' draws
            # depend neither on its batch-mates, nor on its chunk, nor on how many queries
            # the other series of its chunk have.
            m = data.inverse_values(means.cpu().numpy())
            for b, count in enumerate(counts):
                means_out.append(m[:, b, :count])
            if not draws:
                continue
            z = observation_noise(seed, n_samples, means.shape[2], means.shape[3], device)
            z = standardised_noise(z, df, stream_seed(seed, "predict_tails"))
            d = data.inverse_values((means + z * std).cpu().numpy())
            for b, count in enumerate(counts):
                draws_out.append(d[:, b, :count])
    return Predictive(means_out, draws_out, data.transforms_ if data.has_transforms else None)


def check_n_samples(value: Any, default: int) -> int:
    """``n_samples`` of an inference call: None means the estimator's parameter."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise QueryError(f"'n_samples' must be an int >= 1. Got {value!r} instead.")
    return int(value)


def draws_frame(
    pred: Predictive,
    features: Sequence[str],
    frame: Callable[[Columns], pd.DataFrame],
    library: FrameLibrary,
) -> Any:
    """All predictive draws as one long frame with a ``sample`` column after the keys
    (``frame`` turns one draw's columns into a pandas frame of the queries)."""
    n_samples = pred.draws[0].shape[0] if pred.draws else 0
    frames = []
    for k in range(n_samples):
        one = frame(pred.draw_columns(features, k))
        one.insert(2, "sample", k)
        frames.append(one)
    return from_pandas(pd.concat(frames, ignore_index=True), library)


def _series_scores(
    padded: PaddedSeries,
    n_samples: int,
    score: Callable[[IrregularBatch, torch.Tensor], torch.Tensor],
    *,
    data: LongFrameEncoder,
    latent_dim: int,
    seed: int,
    batch_size: int,
) -> np.ndarray:
    """``score(batch, eps)`` ``(B,)`` of every chunk of ``padded``, without gradients, plus
    the Jacobian of the map from original to scaled values (``data.log_derivative``: the
    scaling's and the feature transforms', per observed value): float64 ``(n_series,)``.
    ``eps`` are ``n_samples`` common-random-number draws, so a series' score does not
    depend on its batch-mates."""
    device = padded.times.device
    eps, _ = common_noise(seed, "score", n_samples, latent_dim, device)
    out = []
    with torch.no_grad():
        for index, batch in padded.chunks(batch_size):
            with padded.naming(index):
                scores = score(batch, eps)
            jac = (batch.mask * data.log_derivative(batch.values)).sum(dim=(-1, -2))
            out.append((scores + jac).cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def iwae_bounds(
    module: Any,
    padded: PaddedSeries,
    n_samples: int,
    *,
    data: LongFrameEncoder,
    latent_dim: int,
    seed: int,
    batch_size: int = 256,
) -> np.ndarray:
    """Per-series IWAE bound ``(n_series,)`` of the observed values in original units
    (``n_samples`` importance samples)."""

    def bound(batch: IrregularBatch, eps: torch.Tensor) -> torch.Tensor:
        return module.bound_terms(batch, batch, n_samples, eps=eps).iwae()

    return _series_scores(
        padded,
        n_samples,
        bound,
        data=data,
        latent_dim=latent_dim,
        seed=seed,
        batch_size=batch_size,
    )


#: Folds of :func:`cross_fitted_scores`: each series' observed steps are dealt round-robin
#: (alternating folds ranked anomalous series better than a first and a second half).
N_FOLDS = 2


def cross_fitted_scores(
    module: Any,
    padded: PaddedSeries,
    n_samples: int,
    *,
    data: LongFrameEncoder,
    latent_dim: int,
    seed: int,
    batch_size: int = 256,
) -> np.ndarray:
    """Per-series cross-fitted predictive log-likelihood ``(n_series,)``, original units.

    Each series' observed steps are dealt round-robin into :data:`N_FOLDS` folds; every
    fold's values are scored given the others', ``log mean_s p(x_fold | z_s, x_rest)`` with
    ``z_s`` drawn from ``q(z0 | x_rest)`` (``n_samples`` common-random-number draws), and
    the folds' scores are summed. Unlike the joint bound, no value is ever scored by a
    model that has read it, which is what an observation head anchored to the observed
    neighbours needs: given its own value, it would explain any series.
    """

    def predictive(batch: IrregularBatch, eps: torch.Tensor) -> torch.Tensor:
        observed = batch.mask.sum(-1) > 0  # (B, K) steps with a value
        fold = (observed.cumsum(dim=1) - 1) % N_FOLDS
        total = torch.zeros(batch.n_series, device=batch.device)
        for f in range(N_FOLDS):
            held = (observed & (fold == f)).unsqueeze(-1).to(batch.mask.dtype)
            keep = 1 - held  # unobserved values are 0.0 (IrregularBatch)
            context = dataclasses.replace(batch, values=batch.values * keep, mask=batch.mask * keep)
            target = dataclasses.replace(batch, values=batch.values * held, mask=batch.mask * held)
            log_px = module.bound_terms(context, target, n_samples, eps=eps).log_px  # (S, B)
            total = total + torch.logsumexp(log_px, dim=0) - np.log(log_px.shape[0])
        return total

    return _series_scores(
        padded,
        n_samples,
        predictive,
        data=data,
        latent_dim=latent_dim,
        seed=seed,
        batch_size=batch_size,
    )
