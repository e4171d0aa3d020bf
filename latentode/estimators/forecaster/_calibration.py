"""Post-fit calibration of the learned observation noise on the validation series.

The ELBO's optimal noise variance is the mean squared residual *over posterior samples*:
``σ² = residual² + Var_q``. Predictive draws then add both the posterior spread and σ, so
the spread of the posterior is counted twice and predictive bands are too wide (the demo's
80 % bands covered 0.96 of held-out points). After training, ``calibrate_noise`` picks, per
feature, the σ that scores best on the validation series' observations, each predicted
from a context drawn as in training (random subsets and prefixes), under the predictive
mixture ``mean_s N(m_s, σ²)`` that ``predict_interval`` and ``sample`` draw from. Two
scores (``metric``):

* ``"crps"`` (the default): the mixture's continuous ranked probability score, in closed
  form (:func:`mixture_crps`). It judges the whole predictive distribution by distance, so
  a few values far from every sample mean (a heavy tail) do not widen every band.
* ``"likelihood"``: the Monte-Carlo predictive log-likelihood ``log mean_s N(y; m_s, σ²)``,
  which such values dominate: the 80 % bands it chose covered 0.83-0.86 of held-out values
  on the clinical sets of ``benchmarks/real.py`` and 0.96-0.98 on remifentanil (CRPS:
  0.77-0.81 and 0.89-0.90, after the same training; ``benchmarks/results/
  real_calibration.json``).

With ``noise="student_t"`` the noise family is chosen first, per feature: the Student-t
degrees of freedom (:data:`DF_GRID`, or Gaussian) under which the validation values' predictive
likelihood, at its best width, is highest (:func:`best_tails`); the metric then sets the
width for that family (the CRPS of a Student-t mixture: :func:`student_t_mixture_crps`).

An anchored observation model has a noise scale per point (``σ_d · exp(h)``): there the
calibration picks one multiplier ``c_d`` of the base scale ``σ_d`` the same way, keeping how
the scale varies between points, and scores only the points the encoder did not see (an
anchored model reproduces the ones it saw almost exactly, so they would shrink the bands
of the predictions that matter).

It picks two, in fact: one for values hidden at a step where another feature was shown
(the head's cross-feature regime, as when one lab value of a visit is missing) and one for
the rest (the head's ``log_concurrent``), when each regime has at least
:data:`_MIN_REGIME_VALUES` validation values. The learned ``h`` does not tell the two apart
well: on flights (``benchmarks/real.py``, 100 epochs) the delays hidden beside their
flight's other values were covered by 0.52-0.54 of the 80 % bands, the same delays
forecast beyond the history by 0.83-0.84. With a multiplier per regime (the delays'
concurrent one came out 1.95× the other) the interpolation bands covered 0.77 instead of
0.67, its CRPS fell 0.268 → 0.263, and extrapolation's stayed (0.397 → 0.396, coverage
0.82 → 0.80), on the same weights.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy import optimize, special

from latentode.estimators._seeds import generator
from latentode.estimators._tensors import PaddedSeries
from latentode.models._context import ContextConfig, context_of, sample_seen

__all__ = [
    "DF_GRID",
    "METRICS",
    "best_noise_scale",
    "best_tails",
    "calibrate_noise",
    "mixture_crps",
    "student_t_mixture_crps",
]

#: The scores ``calibrate_noise`` can choose the noise scale by.
METRICS = ("crps", "likelihood")

#: Candidate noise scales, as multiples of the root-mean-square residual.
_GRID = np.exp(np.linspace(math.log(1e-3), math.log(3.0), 241))

#: The CRPS search: a coarse pass over :data:`_GRID`'s range, then a fine one between the
#: best coarse point's neighbours; at most this many values per feature (chosen at random)
#: enter it, since its cost grows with (posterior samples)² × values.
_CRPS_COARSE = np.exp(np.linspace(math.log(1e-3), math.log(3.0), 25))
_CRPS_FINE = 21
_CRPS_MAX_VALUES = 4000


def mixture_crps(residuals: np.ndarray, scales: np.ndarray) -> float:
    """Mean CRPS of the equal-weight Gaussian mixtures ``mean_s N(m_sn, scales_sn²)`` at
    their observations ``y_n``, from ``residuals`` ``y_n - m_sn`` ``(S, N)``.

    Closed form (Grimit et al., 2006): ``CRPS = E|X - y| - E|X - X'| / 2`` with
    ``E|N(μ, σ²)| = μ (2 Φ(μ/σ) - 1) + 2 σ φ(μ/σ)``, over the ``S`` components and the
    ``S²`` pairs of components.
    """
    r = residuals.astype(np.float64)
    s = scales.astype(np.float64)
    to_obs = _abs_normal_mean(r, s).mean(axis=0)
    gaps = r[:, None, :] - r[None, :, :]
    spread = np.sqrt(s[:, None, :] ** 2 + s[None, :, :] ** 2)
    between = _abs_normal_mean(gaps, spread).mean(axis=(0, 1))
    return float(np.mean(to_obs - 0.5 * between))


def _abs_normal_mean(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """``E|X|`` for ``X ~ N(mu, sigma²)``, elementwise."""
    u = mu / sigma
    return mu * (2.0 * special.ndtr(u) - 1.0) + 2.0 * sigma * np.exp(-0.5 * u**2) / math.sqrt(
        2.0 * math.pi
    )


def best_noise_scale(
    residuals: np.ndarray,
    scales: np.ndarray | None = None,
    metric: str = "likelihood",
    seed: int = 0,
    df: float = math.inf,
) -> tuple[float, float]:
    """σ maximising ``mean_n log mean_s N(r_sn; 0, σ²)`` and that mean log-likelihood.

    ``residuals``: ``(S, N)``, observation minus each of ``S`` posterior-sample means. With
    per-point ``scales`` ``(S, N)`` it is instead the multiplier ``c`` maximising
    ``mean_n log mean_s N(r_sn; 0, (c · scales_sn)²)``. A finite ``df`` puts Student-t
    noise with ``df`` degrees of freedom in place of the Gaussian.

    ``metric="crps"`` minimises the mixture's CRPS (:func:`mixture_crps`, or
    :func:`student_t_mixture_crps`) instead and returns the σ (or ``c``) and that CRPS;
    over at most :data:`_CRPS_MAX_VALUES` values, drawn with ``seed``.
    """
    if metric == "crps":
        return _best_crps_scale(residuals, scales, seed, df)
    unit = np.ones_like(residuals, dtype=np.float64) if scales is None else scales
    rms = math.sqrt(float(np.mean((residuals.astype(np.float64) / unit) ** 2))) or 1.0
    ll, c = max((_mean_log_lik(residuals, c, scales, df), float(c)) for c in _GRID * rms)
    return c, ll


def _best_crps_scale(
    residuals: np.ndarray, scales: np.ndarray | None, seed: int, df: float = math.inf
) -> tuple[float, float]:
    """:func:`best_noise_scale` for ``metric="crps"``; a finite ``df``: for Student-t noise."""
    base = np.ones_like(residuals) if scales is None else scales
    residuals, base = _subsample(residuals, base.astype(np.float64), seed)
    if not math.isinf(df):
        return _best_t_crps_scale(residuals, base, seed, df)
    rms = math.sqrt(float(np.mean((residuals / base) ** 2))) or 1.0
    coarse = _CRPS_COARSE * rms
    scores = [mixture_crps(residuals, c * base) for c in coarse]
    k = int(np.argmin(scores))
    lo, hi = coarse[max(k - 1, 0)], coarse[min(k + 1, len(coarse) - 1)]
    fine = np.exp(np.linspace(math.log(lo), math.log(hi), _CRPS_FINE))
    best, c = min((mixture_crps(residuals, c * base), float(c)) for c in fine)
    return c, best


#: The fewest validation values of a regime (another feature observed at the same time, or
#: not) that get their own noise multiplier; with fewer, one multiplier serves both.
_MIN_REGIME_VALUES = 50

#: The degrees of freedom ``student_t`` calibration chooses among (inf: Gaussian). Two is
#: the least: below it the noise has no variance and draws of ``sample`` run wild.
DF_GRID = (2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0, math.inf)

#: The likelihood search over scales for each candidate ``ν`` (multiples of the RMS).
_TAIL_GRID = np.exp(np.linspace(math.log(1e-3), math.log(3.0), 49))

#: Student-t draws per component in :func:`student_t_mixture_crps`'s spread term, and
#: the values the Student-t width search scores (its cost grows with samples × draws ×
#: values).
_T_DRAWS = 16
_T_CRPS_MAX_VALUES = 2000


def best_tails(residuals: np.ndarray, scales: np.ndarray, seed: int = 0) -> float:
    """The degrees of freedom (from :data:`DF_GRID`) whose Student-t predictive mixture
    ``mean_s t_ν(r_sn; 0, c · scales_sn)``, at its best multiplier ``c``, gives the
    validation ``residuals`` ``(S, N)`` the highest mean log-likelihood.

    The likelihood, not the CRPS, chooses the shape: how often values land far from every
    prediction is what it measures, while the CRPS barely tells tails apart. The width is
    then chosen by the calibration's metric at that ``ν`` (over at most
    :data:`_CRPS_MAX_VALUES` values, drawn with ``seed``, here as there).
    """
    r, unit = _subsample(residuals, scales.astype(np.float64), seed)
    rms = math.sqrt(float(np.mean((r / unit) ** 2))) or 1.0
    scored = [
        (max(_mean_log_lik(r, float(c), unit, df) for c in _TAIL_GRID * rms), df) for df in DF_GRID
    ]
    return max(scored)[1]


def student_t_mixture_crps(
    residuals: np.ndarray, scales: np.ndarray, df: float, seed: int = 0
) -> float:
    """Mean CRPS of the equal-weight Student-t mixtures ``mean_s (m_sn + scales_sn T_ν)`` at
    their observations, from ``residuals`` ``y_n - m_sn`` ``(S, N)``; ``df`` > 1.

    ``CRPS = E|X - y| - E|X - X'| / 2``: the first term in closed form per component
    (``E|T - a| = a (2 F(a) - 1) + 2 f(a) (ν + a²) / (ν - 1)``), the second over all
    pairs of :data:`_T_DRAWS` Student-t draws per component (drawn with ``seed``: common
    random numbers, so the score is smooth in a common factor of ``scales``).
    """
    r = residuals.astype(np.float64)
    s = np.broadcast_to(scales, r.shape).astype(np.float64)
    a = r / s
    pdf = np.exp(
        special.gammaln(0.5 * (df + 1))
        - special.gammaln(0.5 * df)
        - 0.5 * math.log(df * math.pi)
        - 0.5 * (df + 1) * np.log1p(a**2 / df)
    )
    to_obs = (
        s * (a * (2.0 * special.stdtr(df, a) - 1.0) + 2.0 * pdf * (df + a**2) / (df - 1))
    ).mean(axis=0)
    # X - y at _T_DRAWS draws per component; the mean |X - X'| over all pairs of distinct
    # atoms from the sorted atoms: sum_{i<j} (x_(j) - x_(i)) = sum_i (2i - M + 1) x_(i).
    t = np.random.default_rng(seed).standard_t(df, (_T_DRAWS, *r.shape))
    atoms = np.sort((t * s - r).reshape(-1, r.shape[1]), axis=0)
    m = atoms.shape[0]
    weights = 2.0 * np.arange(m) - m + 1.0
    between = 2.0 * (weights @ atoms) / (m * (m - 1))
    return float(np.mean(to_obs - 0.5 * between))


def _best_t_crps_scale(
    residuals: np.ndarray, base: np.ndarray, seed: int, df: float
) -> tuple[float, float]:
    """The multiplier ``c`` of ``base`` minimising the Student-t mixture's CRPS
    (:func:`student_t_mixture_crps`, on at most :data:`_T_CRPS_MAX_VALUES` values) and that
    CRPS: a bounded search over ``log c`` between a quarter of and twice the Gaussian's
    best multiplier (the same spread with heavier tails needs a smaller scale)."""
    gaussian, _ = _best_crps_scale(residuals, base, seed)
    residuals, base = _subsample(residuals, base, seed, _T_CRPS_MAX_VALUES)

    def crps(log_c: float) -> float:
        return student_t_mixture_crps(residuals, math.exp(log_c) * base, df, seed)

    found = optimize.minimize_scalar(
        crps,
        bounds=(math.log(gaussian / 4.0), math.log(2.0 * gaussian)),
        method="bounded",
        options={"xatol": 0.01},
    )
    return math.exp(float(found.x)), float(found.fun)


def mixture_cdf(residuals: np.ndarray, scales: np.ndarray, df: float = math.inf) -> np.ndarray:
    """The predictive mixture's CDF at each observation, ``mean_s F((y - m_s) / scale_s)``
    with ``F`` the standard Gaussian (or Student-t with ``df``), from ``residuals``
    ``y - m_s`` ``(S, N)``: ``(N,)`` probability integral transforms."""
    z = residuals.astype(np.float64) / scales.astype(np.float64)
    cdf = special.ndtr(z) if math.isinf(df) else special.stdtr(df, z)
    return np.asarray(cdf.mean(axis=0))


def interval_cover(
    residuals: np.ndarray, scales: np.ndarray, level: float = 0.8, df: float = math.inf
) -> float:
    """Share of observations inside the predictive mixture's central ``level`` interval."""
    pit = mixture_cdf(residuals, scales, df)
    tail = 0.5 * (1.0 - level)
    return float(np.mean((pit >= tail) & (pit <= 1.0 - tail)))


def calibrate_noise(
    module: Any,
    val: PaddedSeries,
    context: ContextConfig,
    seed: int,
    *,
    metric: str = "crps",
    student_t: bool = False,
    split_concurrent: bool = True,
    batch_size: int = 256,
    n_samples: int = 16,
    n_contexts: int = 1,
) -> dict[str, Any]:
    """Set ``module``'s per-feature noise scale from the series ``val``; returns a summary.

    Contexts are drawn as in training (``context``), from the ``"calibration"`` stream,
    ``n_contexts`` per validation series (4 rather than 1 changed nothing beyond noise on
    flights after 300 s: ``benchmarks/results/calibration_flights300.json``);
    ``metric`` (one of :data:`METRICS`) is the score the scale optimises. With
    ``student_t``, each feature's noise family is chosen first (:func:`best_tails`: the
    Student-t degrees of freedom, or Gaussian, of the highest validation likelihood) and
    set in the head's ``df``. The summary has both scales and, with each, the validation
    values' predictive NLL and CRPS (means per value over features, in standardised
    units), the degrees of freedom, and the share of validation values inside their
    calibrated mixture's central 80 % interval (``val_coverage_calibrated``: 0.82-0.86
    on the four real sets after 100 epochs, where the test series' interpolation covered
    0.77-0.93; widening each multiplier until validation coverage reached 0.80 thus
    changed nothing: ``benchmarks/results/calibration_floor.json``).
    """
    if metric not in METRICS:
        raise ValueError(f"'metric' must be one of {METRICS}. Got {metric!r} instead.")
    device = val.times.device
    gen = generator(seed, "calibration", device)
    n_features = val.values.shape[-1]
    residuals: list[list[np.ndarray]] = [[] for _ in range(n_features)]
    scales: list[list[np.ndarray]] = [[] for _ in range(n_features)]
    concurrent: list[list[np.ndarray]] = [[] for _ in range(n_features)]
    per_point = bool(module.observation.uses_anchors)
    module.eval()
    passes = [batch for _ in range(n_contexts) for _, batch in val.chunks(batch_size)]
    with torch.no_grad():
        for batch in passes:
            keep, seen = sample_seen(batch, context, gen)
            ctx = context_of(batch, keep, seen)
            means, std = module.sample_predictive(ctx, batch.times, n_samples)  # (S, B, K, D)
            r = (batch.values.unsqueeze(0) - means).cpu().numpy()
            s = torch.broadcast_to(std, means.shape).cpu().numpy()
            scored = batch.mask.bool()
            if per_point:  # score only what the encoder did not see, as predictions are
                scored = scored & ~seen
            observed = scored.cpu().numpy()
            # Another feature shown at the same step: the anchored head's concurrent regime
            # (a scored value was not shown, so any value shown at its step is another's).
            shown = (seen & batch.mask.bool()).any(dim=-1).cpu().numpy()  # (B, K)
            for d in range(r.shape[-1]):
                residuals[d].append(r[..., d][:, observed[..., d]])
                scales[d].append(s[..., d][:, observed[..., d]])
                concurrent[d].append(shown[observed[..., d]])
    trained = module.observation.std.detach().cpu().numpy().astype(np.float64)
    calibrated = trained.copy()
    trained_df = module.observation.df.detach().cpu().numpy().astype(np.float64)
    tails = trained_df.copy()
    ratio = np.ones(n_features)  # concurrent regime's scale / the other's
    before: dict[str, list[float]] = {"nll": [], "crps": [], "coverage": []}
    after: dict[str, list[float]] = {"nll": [], "crps": [], "coverage": []}
    for d, parts in enumerate(residuals):
        r = np.concatenate(parts, axis=1)
        if r.shape[1] == 0:  # never observed in the validation series: keep the trained σ
            continue
        # Per-point scales as they were trained (σ_d · exp(h)), or σ_d everywhere: the
        # calibration picks their multiplier c, and the new base scale is c · σ_d.
        unit = np.concatenate(scales[d], axis=1) if per_point else np.full_like(r, trained[d])
        if student_t:
            tails[d] = best_tails(r, unit, seed=seed + d)
        conc = np.concatenate(concurrent[d])
        smaller = min(int(conc.sum()), int((~conc).sum()))
        if per_point and split_concurrent and smaller >= _MIN_REGIME_VALUES:
            c, c_conc = (
                best_noise_scale(
                    r[:, m], unit[:, m], metric=metric, seed=seed + d, df=float(tails[d])
                )[0]
                for m in (~conc, conc)
            )
            ratio[d] = c_conc / c
        else:
            c, _ = best_noise_scale(r, unit, metric=metric, seed=seed + d, df=float(tails[d]))
        calibrated[d] = trained[d] * c
        factor = np.where(conc, c * ratio[d], c) if per_point else np.full(r.shape[1], c)
        for summary, f, df in (
            (before, np.ones_like(factor), trained_df[d]),
            (after, factor, tails[d]),
        ):
            summary["nll"].append(-_mean_log_lik(r, 1.0, f * unit, float(df)))
            summary["crps"].append(_crps_sample(r, f * unit, seed + d, float(df)))
            summary["coverage"].append(interval_cover(r, f * unit, df=float(df)))
    with torch.no_grad():
        module.observation.log_std.copy_(
            torch.as_tensor(
                np.log(calibrated),
                dtype=module.observation.log_std.dtype,
                device=module.observation.log_std.device,
            )
        )
        inv_df = module.observation.inv_df
        inv_df.copy_(torch.as_tensor(1.0 / tails, dtype=inv_df.dtype, device=inv_df.device))
        regime = getattr(module.observation, "log_concurrent", None)
        if regime is not None:
            regime.add_(torch.as_tensor(np.log(ratio), dtype=regime.dtype, device=regime.device))
    return {
        "metric": metric,
        "trained_std": trained.tolist(),
        "calibrated_std": calibrated.tolist(),
        "val_predictive_nll_trained": _mean_or_none(before["nll"]),
        "val_predictive_nll_calibrated": _mean_or_none(after["nll"]),
        "val_crps_trained": _mean_or_none(before["crps"]),
        "val_crps_calibrated": _mean_or_none(after["crps"]),
        "df": [float(v) if math.isfinite(v) else None for v in tails],
        "concurrent_ratio": ratio.tolist(),
        "val_coverage_calibrated": _mean_or_none(after["coverage"]),
        "n_samples": n_samples,
    }


def _subsample(
    residuals: np.ndarray, scales: np.ndarray, seed: int, limit: int = _CRPS_MAX_VALUES
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``limit`` columns of ``residuals`` and ``scales``, drawn with ``seed`` (the
    same ones for the same shape and seed)."""
    if residuals.shape[1] <= limit:
        return residuals, scales
    keep = np.random.default_rng(seed).choice(residuals.shape[1], limit, replace=False)
    return residuals[:, keep], scales[:, keep]


def _crps_sample(
    residuals: np.ndarray, scales: np.ndarray, seed: int, df: float = math.inf
) -> float:
    """:func:`mixture_crps` (:func:`student_t_mixture_crps` for a finite ``df``) over the
    values :func:`best_noise_scale` searches on."""
    r, s = _subsample(residuals, scales, seed)
    return mixture_crps(r, s) if math.isinf(df) else student_t_mixture_crps(r, s, df, seed)


def _mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _mean_log_lik(
    residuals: np.ndarray,
    sigma: float,
    scales: np.ndarray | None = None,
    df: float = math.inf,
) -> float:
    """``mean_n log mean_s p(r_sn)`` with ``p`` the noise family of ``df`` (inf: Gaussian)
    at scale ``sigma`` (times ``scales``, per point)."""
    r2 = residuals.astype(np.float64) ** 2
    s = sigma if scales is None else sigma * scales.astype(np.float64)
    if math.isinf(df):
        elem = -0.5 * r2 / s**2 - np.log(s) - 0.5 * math.log(2 * math.pi)
    else:
        const = special.gammaln(0.5 * (df + 1)) - special.gammaln(0.5 * df)
        const -= 0.5 * math.log(df * math.pi)
        elem = const - np.log(s) - 0.5 * (df + 1) * np.log1p(r2 / (df * s**2))
    elem = np.broadcast_to(elem, residuals.shape)
    top = elem.max(axis=0)
    return float((top + np.log(np.exp(elem - top).mean(axis=0))).mean())
