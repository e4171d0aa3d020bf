"""Anchored observation model: ``p(x | z(t), anchors)``, trusting nearby observations.

``x_d ~ N(m_d, (σ_d · exp(h_d))²)`` with

    m_d = π_0 · g(z)_d + π_1 · a_d + π_2 · l_d + Σ_h π_h · s_hd + π_c · c_d + δ_d,
    π = softmax(0, u_d)

where ``g`` is the latent decoder (linear in ``z(t)``, as in the plain Gaussian model),
``a_d`` the anchor — the interpolation of feature ``d``'s nearest context observations, or
the last / next one — and ``l_d`` the series' level, the mean of its context observations
and ``s_hd`` kernel averages of them at three bandwidths, a GP-like local smoother (see
:mod:`latentode.models._anchors`; all of these drop out of the mixture when the context has
no observation of ``d``), and ``c_d = b_d + Σ_e W_de x_e(t)`` a linear regression of ``d``
on the other features observed at the query time (unobserved ones at their mean; it drops
out when none was), for values hidden from a step whose other features were measured.
``u``, ``δ``, ``h`` come from one small MLP of ``z(t)``, that feature's anchor features
``A_d`` (values, gaps, counts) and a one-hot code of ``d``.
The weights ``π`` are a learned trust: near smooth, densely observed values the anchor wins
(interpolation), for noisy features the level or a wide average, where none says much the
latent path;
like GRU-D's decay towards the mean, but learned from the gaps. ``h`` lets the noise grow
with the distance to the observations (heteroscedastic bands). The MLP's last layer starts
at zero: an untrained head averages the seven, with noise ``σ_d``.

Each feature's terms read its own anchor features and the values of the other features
observed at exactly the query time (never whether *this* one was: that is its own
anchor's gap). Learning to use those needs training contexts that hide single values
(``value_dropout``), since in use single values are missing while training otherwise hides
whole time steps.
"""

from __future__ import annotations

import math
from typing import NamedTuple, cast

import torch
from torch import nn

from latentode.nn.noise import noise_log_density
from latentode.nn.vector_field import make_mlp

__all__ = ["N_ANCHOR_FEATURES", "AnchoredObservation"]

#: Anchor features per (query, feature) pair (see :mod:`latentode.models._anchors`).
N_ANCHOR_FEATURES = 15

#: Positions of the mixture components among the anchor features: the nearest-observation
#: anchor, the level and the three kernel averages (see :mod:`latentode.models._anchors`).
_COMPONENTS = (0, 7, 9, 11, 13)

#: Bound on the learned log-scale adjustment ``h`` (noise within e^±5 of the base).
_MAX_LOG_ADJUST = 5.0

#: Hidden-layer values per block of posterior samples in :meth:`AnchoredObservation._parts`
#: (4 MiB in float32: one sample of 256 series × 100 queries × 32 hidden units).
_BLOCK_VALUES = 2**20


def _sample_blocks(shared: torch.Tensor) -> int:
    """Posterior samples per block: as many as keep the hidden layer within
    :data:`_BLOCK_VALUES` values, at least one (``shared`` is one sample's ``(B, Q, D, H)``)."""
    return max(1, _BLOCK_VALUES // max(1, shared.numel()))


def _with_zero_row(x: torch.Tensor) -> torch.Tensor:
    """``x`` with a row (or element) of zeros in front."""
    return torch.cat([x.new_zeros((1, *x.shape[1:])), x])


class _Mixture(NamedTuple):
    """The anchored head's terms at a set of queries."""

    mean: torch.Tensor  # (S, B, Q, D)
    log_std: torch.Tensor  # (S, B, Q, D)
    latent: torch.Tensor  # (S, B, Q, D): the latent decode g(z)


class AnchoredObservation(nn.Module):
    """Per-feature Gaussian between the latent decode and the anchor (see module doc).

    Parameters
    ----------
    latent_dim, n_features : int
    n_anchor_features : int, default=N_ANCHOR_FEATURES
        Anchor features per (query, feature) pair besides the ``2 n_features`` values
        observed at the same time, as :func:`~latentode.models._anchors.anchor_features`
        makes them.
    hidden_dim : int, default=32
        Width of the gate / correction MLP's hidden layer.
    obs_std : float or None
        Fixed base noise scale (scaled units; no learned adjustment); None learns both.
    """

    uses_anchors = True

    def __init__(
        self,
        latent_dim: int,
        n_features: int,
        n_anchor_features: int = N_ANCHOR_FEATURES,
        hidden_dim: int = 32,
        obs_std: float | None = None,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.fixed = obs_std is not None
        self.decoder = nn.Linear(latent_dim, n_features)
        n_in = latent_dim + n_anchor_features + 3 * n_features  # + concurrent values, codes
        self.net = make_mlp(n_in, len(_COMPONENTS) + 3, hidden_dim, 1)
        # The cross-feature regression: feature d from the other features observed at the
        # same time (standardised units; an unobserved one counts as its mean, 0).
        self.cross_weight = nn.Parameter(torch.zeros(n_features, n_features))
        self.cross_bias = nn.Parameter(torch.zeros(n_features))
        self.n_anchor_features = n_anchor_features
        self.register_buffer("codes", torch.eye(n_features))
        last = self.net[-1]
        if isinstance(last, nn.Linear):  # make_mlp ends in a Linear layer
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        init = math.log(obs_std) if obs_std is not None else math.log(0.1)
        log_std = torch.full((n_features,), init)
        if obs_std is None:
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)
        # The noise family per feature (see :mod:`latentode.nn.noise`), as 1 / degrees of
        # freedom: Gaussian (0) until a calibration chooses Student-t tails.
        self.register_buffer("inv_df", torch.zeros(n_features))
        # The log of an extra noise factor per feature for values whose other features were
        # observed at the same time (the cross-feature regression's regime): 0 until the
        # calibration measures it (see :func:`~latentode.estimators.forecaster.
        # _calibration.calibrate_noise`).
        self.register_buffer("log_concurrent", torch.zeros(n_features))
        # The noise scale of the latent path alone, ``x_d ~ N(g(z)_d, τ_d²)``: used only by
        # the training objective's latent-path term (:meth:`latent_log_prob`).
        self.latent_log_std = nn.Parameter(torch.zeros(n_features))

    @torch.no_grad()
    def fit_cross_regression(
        self, values: torch.Tensor, mask: torch.Tensor, ridge: float = 1e-2
    ) -> None:
        """Start the cross-feature regression at its least-squares fit on training rows.

        For each feature ``d``: ridge regression of ``x_d`` on the other features observed in
        the same row (unobserved ones at their mean, 0), over the rows of ``values`` /
        ``mask`` ``(N, D)`` (standardised units) where ``d`` and another feature were
        observed. Rows without such pairs leave ``d``'s coefficients at zero. Training then
        refines them with the rest of the head.
        """
        values = torch.where(mask > 0, values, torch.zeros_like(values)).double()
        observed = mask > 0
        n_features = self.n_features
        for d in range(n_features):
            others = [e for e in range(n_features) if e != d]
            if not others:
                continue
            rows = observed[:, d] & observed[:, others].any(dim=1)
            if int(rows.sum()) < 2 * n_features:
                continue
            x = values[rows][:, others]
            x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
            y = values[rows, d]
            gram = x.T @ x + ridge * len(x) * torch.eye(x.shape[1], dtype=x.dtype)
            coef = torch.linalg.solve(gram, x.T @ y)
            self.cross_weight[d, others] = coef[:-1].to(self.cross_weight.dtype)
            self.cross_bias[d] = coef[-1].to(self.cross_bias.dtype)

    @property
    def df(self) -> torch.Tensor:
        """Each feature's Student-t degrees of freedom (inf: Gaussian noise)."""
        return self.inv_df.reciprocal()

    @property
    def std(self) -> torch.Tensor:
        """The base noise scale ``σ`` per feature."""
        return self.log_std.exp()

    def distribution(
        self, z: torch.Tensor, anchors: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log noise scale ``(S, B, Q, D)`` at latent states ``z`` ``(S, B, Q, L)``
        with ``anchors`` ``(B, Q, D, F)``."""
        parts = self._parts(z, anchors)
        return parts.mean, parts.log_std

    def _parts(self, z: torch.Tensor, anchors: torch.Tensor | None) -> _Mixture:
        """:meth:`distribution`'s terms (see :class:`_Mixture`).

        What depends on the queries alone (the anchors' part of the MLP's first layer, the
        mixture's masks and fixed components) is computed once; the rest runs on blocks
        of posterior samples (:func:`_sample_blocks`), so its ``(S, B, Q, D, H)`` hidden
        layer stays in the CPU's cache instead of streaming through memory (the same sums,
        sample by sample: 184 → 66 ms for the head of 256 series × 100 queries × 32
        samples, 1 thread).
        """
        if anchors is None:
            raise ValueError("AnchoredObservation needs the anchor features of the queries.")
        d = self.n_features
        # The MLP's first layer on [z, anchors, code] is split into its three blocks, so the
        # anchors' part is computed once for all posterior samples instead of on an
        # (S, B, Q, D, ·) concatenation (the same sums).
        first = cast("nn.Linear", self.net[0])  # make_mlp: Linear, activation, Linear
        n_latent, n_anchor = z.shape[-1], anchors.shape[-1]
        w_z, w_a, w_c = first.weight.split([n_latent, n_anchor, d], dim=1)
        shared = anchors @ w_a.T + (self.codes @ w_c.T + first.bias)  # (B, Q, D, H)
        k = len(_COMPONENTS) + 1
        # The latent decode is always there; the anchors only where the context observed d;
        # the cross-feature regression only where another feature was observed at t.
        f = self.n_anchor_features
        others, seen = anchors[..., f : f + d], anchors[..., f + d : f + 2 * d]
        absent = anchors[..., 1] + anchors[..., 2] == 0  # (B, Q, D)
        alone = seen.sum(-1) == 0
        blocked = torch.stack([torch.zeros_like(absent), *([absent] * (k - 1)), alone]).unsqueeze(
            1
        )  # (K + 1, 1, B, Q, D)
        cross = (others * self.cross_weight).sum(-1) + self.cross_bias  # (B, Q, D)
        fixed_parts = torch.stack([*(anchors[..., i] for i in _COMPONENTS), cross]).unsqueeze(1)
        blocks = [
            self._mixture(block, w_z, shared, blocked, fixed_parts)
            for block in z.split(_sample_blocks(shared))
        ]
        if len(blocks) == 1:
            return blocks[0]
        return _Mixture(*(torch.cat(terms) for terms in zip(*blocks, strict=True)))

    def _mixture(
        self,
        z: torch.Tensor,
        w_z: torch.Tensor,
        shared: torch.Tensor,
        blocked: torch.Tensor,
        fixed_parts: torch.Tensor,
    ) -> _Mixture:
        """:meth:`_parts` for a block of posterior samples ``z`` ``(s, B, Q, L)``, given
        the first layer's latent weights ``w_z`` and anchors' part ``shared``
        ``(B, Q, D, H)``, the blocked components ``(K + 1, 1, B, Q, D)`` and the fixed
        ones ``(K, 1, B, Q, D)``."""
        last = cast("nn.Linear", self.net[2])
        hidden = (z @ w_z.T).unsqueeze(-2)  # (s, B, Q, 1, H)
        # (s, B, Q, D, H): one pass; with one feature in place on the fresh product (the
        # same sums, one temporary less: 0.75x the time on CPU)
        hidden = hidden.add_(shared) if shared.shape[-2] == 1 else hidden + shared
        # In place: the sum is a fresh temporary, and tanh's backward needs only its output
        # (0.6x the time of an out-of-place tanh over these s·B·Q·D·H values).
        hidden = hidden.tanh_() if isinstance(self.net[1], nn.Tanh) else self.net[1](hidden)
        # The last layer writes component-major (K + 2, s, B, Q, D): the softmax then runs
        # over a leading dimension of 7 rather than a trailing one (24x faster on CPU), and
        # every later product is a contiguous, broadcast one.
        # A zero first row of the layer writes the mixture's fixed zero logit (exactly 0:
        # a sum of zero products) in front of the others, so the logits are a view of the
        # output rather than a concatenation.
        lead = hidden.shape[:-1]
        out = torch.addmm(
            _with_zero_row(last.bias).unsqueeze(1),
            _with_zero_row(last.weight),
            hidden.reshape(-1, hidden.shape[-1]).T,
        )
        out = out.reshape(-1, *lead)
        k = len(_COMPONENTS) + 1
        weights = torch.softmax(out[: k + 1].masked_fill(blocked, float("-inf")), dim=0)
        out = out[1:]
        latent = self.decoder(z)  # (s, B, Q, D)
        mean = weights[0] * latent + (weights[1:] * fixed_parts).sum(0) + out[k]
        adjust = out[k + 1]
        if self.fixed:
            adjust = torch.zeros_like(adjust)
        adjust = _MAX_LOG_ADJUST * torch.tanh(adjust / _MAX_LOG_ADJUST)
        alone = blocked[-1, 0]  # (B, Q, D): no other feature observed at the query time
        regime = (~alone).to(adjust.dtype) * self.log_concurrent
        return _Mixture(mean, self.log_std.clamp(min=-7.0) + adjust + regime, latent)

    def training_terms(
        self, z: torch.Tensor, anchors: torch.Tensor | None, x: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`distribution`'s mean and log scale, and the latent-path term ``(S, B)``
        the training objective adds (weighted by ``latent_weight``): the negative
        log-density of ``x`` under the latent path alone (:meth:`latent_log_prob`), from the
        same latent decode."""
        parts = self._parts(z, anchors)
        path = -self.latent_log_prob(z, x, mask, latent=parts.latent)
        return parts.mean, parts.log_std, path

    def latent_log_prob(
        self,
        z: torch.Tensor,
        x: torch.Tensor,
        mask: torch.Tensor,
        latent: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Log-density ``(S, B)`` of the observed entries of ``x`` ``(B, Q, D)`` under the
        latent path alone, ``N(g(z)_d, τ_d²)`` at latent states ``z`` ``(S, B, Q, L)``.

        The anchors explain most of what the context shows, so the mixture's likelihood
        alone gives the latent dynamics little to learn from: on the periodic set
        (defaults, 240 s) the latent decode alone interpolated at MSE 0.50 and extrapolated
        at 0.53, no better than the series' mean. With this term in the training objective
        (``latent_weight=1``) it reached 0.033 and 0.062, so ``z0`` and ``z(t)`` (what
        ``transform`` and the posterior describe) model the whole series. The mixture's
        gate still leaves the latent decode under 1 % of the weight beyond the context
        (with this term alone the forecast there stayed at 0.53; ``beta_nll`` brings it to
        0.17 through the correction term): a gate that learns only through the mixture's
        mean moves a component's weight at a rate proportional to that weight. A
        cross-entropy towards each value's best component, tried to fix that, made
        interpolation worse on a real set (flights CRPS 0.25 → 0.31) and was dropped.
        """
        mean = self.decoder(z) if latent is None else latent
        return self.log_prob(mean, x, mask, self.latent_log_std.clamp(min=-7.0))

    def log_prob(
        self,
        mean: torch.Tensor,
        x: torch.Tensor,
        mask: torch.Tensor,
        log_std: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sum of log-densities (each feature's noise family, :attr:`df`) over observed
        entries: ``(S, B, Q, D)`` means and log scales, ``x`` and ``mask`` ``(B, Q, D)`` →
        ``(S, B)``."""
        if log_std is None:
            log_std = self.log_std.clamp(min=-7.0)
        elem = noise_log_density(x, mean, log_std, self.df)
        return (elem * mask).sum(dim=(-1, -2))
