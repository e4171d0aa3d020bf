"""How ``LatentODEForecaster`` predicts: sampling paths at query times, output frames."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch

from latentode.data import from_pandas, to_pandas
from latentode.estimators._tensors import PaddedSeries, pad_queries, plan_queries
from latentode.exceptions import QueryError

__all__ = [
    "assemble",
    "check_levels",
    "common_noise",
    "iwae_bounds",
    "resolve_queries",
    "sample_frame",
    "sample_paths",
]


def common_noise(est: Any, n_samples: int, offset: int = 7) -> tuple[torch.Tensor, torch.Generator]:
    """Common random numbers: one base-noise draw ``(S, 1, latent_dim)`` shared by every
    series (so a series' samples depend neither on its batch-mates nor on its position),
    and the generator to draw further shared noise from."""
    gen = torch.Generator(device=est.device_).manual_seed(est.seed_ + offset)
    eps = torch.randn((n_samples, 1, est.latent_dim), generator=gen, device=est.device_)
    return eps, gen


def sample_paths(
    est: Any,
    padded: PaddedSeries,
    queries: list[np.ndarray],
    n_samples: int,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per series, in original units at its query times, arrays ``(S, Q_i, D)`` of
    posterior-sample means and of predictive draws (means plus observation noise)."""
    eps, gen = common_noise(est, n_samples)
    means_out: list[np.ndarray] = []
    draws_out: list[np.ndarray] = []
    std = est.module_.observation.std
    chunk = max(est.batch_size, 256)
    with torch.no_grad():
        for start in range(0, len(padded), chunk):
            index = torch.arange(start, min(start + chunk, len(padded)))
            context = padded.batch(index)
            q, counts = pad_queries(
                [queries[i] * est.time_span for i in index.tolist()],
                context[0][:, 0],
                est.device_,
            )
            means = est.module_.sample_means(context, q, n_samples, eps=eps)
            # Observation noise is shared across series too (common random numbers), so
            # a series' draws do not depend on its batch-mates or its position.
            z = torch.randn((n_samples, 1, *means.shape[2:]), generator=gen, device=est.device_)
            draws = means + z * std
            m = est.data_.inverse_values(means.cpu().numpy())
            d = est.data_.inverse_values(draws.cpu().numpy())
            for b, count in enumerate(counts):
                means_out.append(m[:, b, :count])
                draws_out.append(d[:, b, :count])
    return means_out, draws_out


def sample_frame(
    est: Any, X: Any, at: Any, horizon: Any, n_points: int | None, n_samples: int
) -> Any:
    """``est.sample``: ``n_samples`` predictive draws as one long frame with a ``sample``
    column, in the library of ``X``."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise QueryError(f"'n_samples' must be an int >= 1. Got {n_samples!r} instead.")
    dataset, padded, library, queries, order = resolve_queries(est, X, at, horizon, n_points)
    _, samples = sample_paths(est, padded, queries, n_samples)
    frames = []
    for k in range(n_samples):
        columns = {name: [s[k, :, d] for s in samples] for d, name in enumerate(est.feature_cols_)}
        frame = to_pandas(assemble(est, dataset, library, queries, order, columns))
        frame.insert(2, "sample", k)
        frames.append(frame)
    return from_pandas(pd.concat(frames, ignore_index=True), library)


def resolve_queries(
    est: Any, X: Any, at: Any, horizon: Any, n_points: int | None
) -> tuple[Any, PaddedSeries, str, list[np.ndarray], pd.DataFrame | None]:
    """History tensors of ``X`` and its query times (see ``plan_queries``)."""
    dataset, padded, library = est._history(X)
    queries, order = plan_queries(est.data_, dataset, at, horizon, n_points)
    return dataset, padded, library, queries, order


def assemble(
    est: Any,
    dataset: Any,
    library: str,
    queries: list[np.ndarray],
    order: pd.DataFrame | None,
    columns: dict[str, list[np.ndarray]],
) -> Any:
    """Long output frame: query rows in ``at``'s order, or series by series."""
    if order is None:
        return est.data_.decode_frame(list(dataset.ids), queries, columns, library)

    out = order[[est.id_col, est.time_col]].reset_index(drop=True).copy()
    s_idx = order["_series_idx"].to_numpy()
    q_idx = order["_query_idx"].to_numpy()
    for name, per_series in columns.items():
        flat = np.concatenate([np.asarray(a, dtype=np.float64) for a in per_series])
        offsets = np.concatenate([[0], np.cumsum([len(a) for a in per_series])[:-1]])
        out[name] = flat[offsets[s_idx] + q_idx]
    return from_pandas(out, library)


def check_levels(values: Any, name: str) -> list[float]:
    levels = [float(v) for v in np.atleast_1d(np.asarray(values, dtype=float))]
    if not levels or any(not (0.0 < v < 1.0) or math.isnan(v) for v in levels):
        raise QueryError(f"'{name}' must hold numbers in (0, 1). Got {values!r} instead.")
    return levels


def iwae_bounds(est: Any, padded: PaddedSeries) -> np.ndarray:
    """Per-series IWAE bound ``(n_series,)`` of the observed values in original units.

    ``n_iwae_samples`` common-random-number samples, so a series' bound does not depend on
    its batch-mates; the Jacobian of the feature scaling is subtracted per observed value.
    """
    k = est.n_iwae_samples
    eps, _ = common_noise(est, k, offset=11)
    log_scale = torch.as_tensor(
        np.log(est.data_.scaler_.scale_), device=est.device_, dtype=torch.float32
    )
    out = []
    with torch.no_grad():
        for index in padded.batches(max(est.batch_size, 256)):
            times, values, mask, lengths = padded.batch(index)
            terms = est.module_.bound_terms(
                (times, values, mask, lengths), (times, values, mask), k, eps=eps
            )
            jacobian = (mask * log_scale).sum(dim=(-1, -2))
            out.append((terms.iwae() - jacobian).cpu().numpy())
    return np.concatenate(out).astype(np.float64)
