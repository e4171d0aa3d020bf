"""Observation noise families: Gaussian, and Student-t with per-feature degrees of freedom.

An observation head keeps its noise shape per feature in an ``inv_df`` buffer (1 / degrees
of freedom, finite so that saved weights stay finite) and reads it as ``df``: ``inf`` is
the Gaussian ``N(m, σ²)`` (every head starts there, and models saved before the buffer
existed load with it), a finite ``ν`` is the Student-t ``m + σ T_ν``, whose heavier
tails keep a few values far from every prediction (flight delays, lab spikes) from
widening every band. Training uses the buffer as it is; the forecaster's post-fit
calibration (:mod:`latentode.estimators.forecaster._calibration`) chooses ``ν`` per
feature on the validation series when ``noise="student_t"``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["noise_log_density", "standardised_noise"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def noise_log_density(
    x: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor, df: torch.Tensor | None = None
) -> torch.Tensor:
    """Elementwise log-density of ``x`` under ``mean + exp(log_std) · ε``, ``ε`` standard
    normal where ``df`` (per feature, broadcast over the last dimension) is infinite or
    None, Student-t with ``df`` degrees of freedom where it is finite."""
    z = (x - mean) / log_std.exp()
    gaussian = -0.5 * z.pow(2) - log_std - _HALF_LOG_2PI
    if df is None or bool(torch.isinf(df).all()):
        return gaussian
    finite = torch.isfinite(df)
    nu = torch.where(finite, df, torch.ones_like(df))  # a placeholder where Gaussian
    const = torch.lgamma(0.5 * (nu + 1.0)) - torch.lgamma(0.5 * nu) - 0.5 * torch.log(nu * math.pi)
    student = const - log_std - 0.5 * (nu + 1.0) * torch.log1p(z.pow(2) / nu)
    return torch.where(finite, student, gaussian)


def standardised_noise(normal: torch.Tensor, df: torch.Tensor | None, seed: int) -> torch.Tensor:
    """``normal`` ``(S, 1, Q, D)`` standard normal draws turned into unit-scale draws of each
    feature's noise family: unchanged where ``df`` ``(D,)`` is infinite, ``Z / sqrt(G / ν)``
    (Student-t) where it is finite, with ``G ~ χ²_ν`` from a numpy generator seeded by
    ``seed``, drawn query position by query position like ``normal`` (position ``q`` gets
    the same numbers whatever ``Q`` is)."""
    if df is None or bool(torch.isinf(df).all()):
        return normal
    nu = df.detach().cpu().double().numpy()
    finite = np.isfinite(nu)
    n_samples, _, n_queries, n_features = normal.shape
    shape = np.where(finite, 0.5 * nu, 1.0)  # Gamma(ν/2); a placeholder where Gaussian
    gamma = np.random.default_rng(seed).standard_gamma(
        np.broadcast_to(shape, (n_queries, n_samples, n_features))
    )
    with np.errstate(divide="ignore"):
        factor = np.where(finite, np.sqrt(np.where(finite, nu, 1.0) / (2.0 * gamma)), 1.0)
    scale = torch.as_tensor(factor, dtype=normal.dtype).permute(1, 0, 2).unsqueeze(1)
    return normal * scale.to(normal.device)
