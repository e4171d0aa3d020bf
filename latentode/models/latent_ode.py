"""The Latent ODE: encoder → q(z0|x) → ODE decoder → p(x|z), with ELBO and IWAE bounds."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from latentode.batch import IrregularBatch
from latentode.models._anchors import anchor_features
from latentode.nn._scan import checkpoint_call, low_memory
from latentode.nn.posterior import standard_normal_log_prob
from latentode.nn.protocols import Encoder, Observation, Posterior
from latentode.nn.solve import DIRECT_METHODS, NFECounter, SolverConfig, solve_on_grids
from latentode.nn.vector_field import ControlledField, piecewise_constant

__all__ = ["MEMORY_MODES", "QUERY_CHUNK", "BoundTerms", "LatentODE"]

#: Training reconstructs the targets in checkpointed blocks of this many query times when a
#: batch has more (``memory`` mode → block): the head's activations of a block at a time,
#: not of the whole series, and with ``"low"`` its decoded states and anchor features too
#: (see :meth:`LatentODE._reconstruct_in_blocks`).
QUERY_CHUNK = {"auto": 4096, "low": 256}

#: The ``memory`` modes: ``"low"`` also checkpoints every encoder loop (see
#: :func:`latentode.nn._scan.low_memory`).
MEMORY_MODES = tuple(QUERY_CHUNK)


class BoundTerms(NamedTuple):
    """Per-sample, per-series terms of the variational bounds (shapes ``(n_samples, B)``)."""

    log_px: torch.Tensor
    kl: torch.Tensor
    log_pz: torch.Tensor
    log_q: torch.Tensor
    sq_err: torch.Tensor  # (B,) summed squared error of the mean prediction
    n_obs: torch.Tensor  # (B,) observed entries in the target
    penalty: torch.Tensor | None = None  # (n_samples, B) posterior regulariser, or None
    #: (n_samples, B) the observation model's latent-path terms, weighted (training only)
    latent_nll: torch.Tensor | None = None

    def elbo(self, kl_weight: float = 1.0) -> torch.Tensor:
        """ELBO per series ``(B,)``, averaged over samples; ``kl_weight`` anneals the KL."""
        return (self.log_px - kl_weight * self.kl).mean(0)

    def iwae(self) -> torch.Tensor:
        """Importance-weighted bound per series ``(B,)`` (Burda et al., 2016)."""
        log_w = self.log_px + self.log_pz - self.log_q
        return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])


def _beta_weights(
    log_std: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
    reduce: Callable[[list[float]], list[float]] | None = None,
    scale: bool = True,
) -> torch.Tensor:
    """β-NLL weights (Seitzer et al., 2022) ``(S, B, Q, D)``: each value's log-density
    weighted by its predicted variance to the power ``beta``, held fixed (no gradient), and
    scaled to mean 1 over the observed entries so the bound keeps its size beside the KL.

    With a learned per-point noise scale, the log-density's gradient on the mean is
    ``(x - m) / σ²``: where the model fits badly it can grow ``σ`` instead, and those values
    stop teaching the mean. The weights undo that by ``σ^(2β)``.

    ``reduce`` sums floats over the processes of a data-parallel group
    (:func:`~latentode.training.distributed.all_sum`): each process then scales its share
    of the batch by the whole batch's mean, as one process would. ``scale=False`` returns
    the weights before that scaling (for a part of the batch: see :func:`_beta_scale`).
    """
    w = (2.0 * beta * log_std.detach()).exp()
    if not scale:
        return w
    total, count = (w * mask).sum(), mask.sum()
    if reduce is not None:
        return w * _beta_scale(total, count, reduce)
    return w / (total / count.clamp(min=1.0)).clamp(min=1e-12)


def _beta_scale(
    total: torch.Tensor,
    count: torch.Tensor,
    reduce: Callable[[list[float]], list[float]] | None = None,
) -> torch.Tensor:
    """The factor :func:`_beta_weights` scales its weights by, from the unscaled weights'
    sum over the observed entries (``total``) and their number (``count``)."""
    if reduce is not None:
        total_f, count_f = reduce([float(total), float(count)])
        return total.new_tensor(max(count_f, 1.0) / max(total_f, 1e-12))
    return 1.0 / (total / count.clamp(min=1.0)).clamp(min=1e-12)


def with_covariate_inputs(batch: IrregularBatch) -> IrregularBatch:
    """``batch`` with its known covariates' values at its own times appended to the values
    as ``C`` more features, observed at every real time step (the batch itself without
    covariates)."""
    if batch.cov_times is None or batch.cov_values is None:
        return batch
    u = piecewise_constant(batch.cov_times, batch.cov_values, batch.times)  # (B, K, C)
    steps = torch.arange(batch.times.shape[1], device=batch.times.device)
    real = (steps < batch.lengths.unsqueeze(1)).to(batch.mask.dtype).unsqueeze(-1)
    values = torch.cat([batch.values, u.to(batch.values.dtype) * real], dim=-1)
    mask = torch.cat([batch.mask, real.expand(*real.shape[:2], u.shape[-1])], dim=-1)
    return batch.with_steps(batch.times, values, mask, batch.lengths)


class LatentODE(nn.Module):
    """Latent ODE model (Rubanova, Chen & Duvenaud, 2019).

    Parameters
    ----------
    encoder : Encoder
        ``encoder(batch) -> h`` of shape ``(B, H)``, a summary at each series' first
        observation (see :class:`~latentode.nn.protocols.Encoder`).
    posterior : Posterior
        ``posterior(h, n_samples) -> PosteriorSample``, ``posterior.mean(h)`` (see
        :class:`~latentode.nn.protocols.Posterior`).
    field : nn.Module
        Latent vector field ``f(t, z)`` or, for batches that carry known time-varying
        covariates (``cov_times``, ``cov_values``), ``f(t, z, u)`` with ``u`` their value at
        ``t`` (see :class:`~latentode.nn.vector_field.ControlledField`).
    observation : Observation
        E.g. :class:`~latentode.nn.observation.GaussianObservation`.
    solver : SolverConfig
        Decoder solver.
    latent_weight : float, default=0.0
        With an observation model that has a latent path of its own (``training_terms``,
        the anchored head): weight of that path's training terms, reported by
        :meth:`bound_terms` in training mode as ``latent_nll`` for the objective to add.
    beta_nll : float, default=0.0
        In training mode, with an observation model that predicts a noise scale per value
        (the anchored head), the bound's log-densities are weighted by ``σ^(2 beta_nll)``
        (see :func:`_beta_weights`); 0 leaves them as they are. Scoring never weights.
    memory : {"auto", "low"}, default="auto"
        How training trades time for memory on long series: the reconstruction runs in
        checkpointed blocks of :data:`QUERY_CHUNK` query times, and with ``"low"`` every
        encoder loop longer than two segments is checkpointed.
    """

    def __init__(
        self,
        encoder: Encoder,
        posterior: Posterior,
        field: nn.Module,
        observation: Observation,
        solver: SolverConfig,
        latent_weight: float = 0.0,
        beta_nll: float = 0.0,
        memory: str = "auto",
    ) -> None:
        super().__init__()
        if memory not in QUERY_CHUNK:
            raise ValueError(f"memory must be one of {MEMORY_MODES}, got {memory!r}.")
        self.latent_weight = float(latent_weight)
        self.beta_nll = float(beta_nll)
        self.memory = memory
        self.encoder = encoder
        self.posterior = posterior
        self.field = field
        self.observation = observation
        self.solver = solver
        self.counter = NFECounter()

    def summary(self, context: IrregularBatch) -> torch.Tensor:
        """What the posterior is conditioned on ``(B, H [+ S])``: the encoder's summary,
        followed by the series' static covariates when the batch carries them. Known
        time-varying covariates reach the encoder as extra, always observed, inputs at the
        context's times (:func:`with_covariate_inputs`)."""
        with low_memory(self.memory == "low"):
            h = self.encoder(with_covariate_inputs(context))
        if context.static is None:
            return h
        return torch.cat([h, context.static.to(h.dtype)], dim=-1)

    def decode(
        self, z0: torch.Tensor, context: IrregularBatch, times: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Observation means ``(S, B, Q, D)`` at query ``times`` ``(B, Q)`` from ``z0`` (at
        the context's first times), and their log noise scales (None: the observation
        model's per-feature ``std``). An anchored observation model also reads what the
        context observed around each query (:func:`~latentode.models._anchors.anchor_features`).
        """
        return self.observation.distribution(*self._states(z0, context, times))

    def _states(
        self,
        z0: torch.Tensor,
        context: IrregularBatch,
        times: torch.Tensor,
        z: torch.Tensor | None = None,
        anchors: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latent states ``z(t)`` ``(S, B, Q, L)`` at ``times`` and, for an anchored
        observation model, the anchor features of the queries (else None); ``z`` and
        ``anchors``, when given, are used as they are."""
        z = self._solve(z0, context, times) if z is None else z
        if anchors is None and self.observation.uses_anchors:
            with low_memory(self.memory == "low"):  # smaller blocks of kernel averages
                anchors = anchor_features(context, times)
        return z, anchors

    def _solve(
        self, z0: torch.Tensor, context: IrregularBatch, times: torch.Tensor
    ) -> torch.Tensor:
        """Latent states ``z(t)`` ``(S, B, Q, L)`` at ``times`` from ``z0`` at the context's
        first times."""
        t0 = context.times[:, 0]
        if context.cov_times is not None and context.cov_values is not None:
            field = ControlledField(self.field, context.cov_times, context.cov_values)
            z = solve_on_grids(field, field.augment(z0), t0, times, self.solver, self.counter)
            return field.strip(z)
        # memory="low": the Euler steps with gradients go step by step, not fused
        # (latentode.nn._fixed_steps.fixed_steps), whose buffers cost ~15 MB at 10,000 points
        with low_memory(self.memory == "low"):
            return solve_on_grids(self.field, z0, t0, times, self.solver, self.counter)

    def bound_terms(
        self,
        context: IrregularBatch,
        target: IrregularBatch,
        n_samples: int = 1,
        *,
        generator: torch.Generator | None = None,
        eps: torch.Tensor | None = None,
        reduce: Callable[[list[float]], list[float]] | None = None,
    ) -> BoundTerms:
        """Encode ``context``, reconstruct ``target`` (its times, values and mask).

        ``reduce`` (a sum of floats over the processes of a data-parallel group) makes
        training-only batch statistics (the β-NLL weights' scale) the whole batch's.
        """
        post = self.posterior(self.summary(context), n_samples, generator=generator, eps=eps)
        chunk = QUERY_CHUNK[self.memory]
        if torch.is_grad_enabled() and target.times.shape[1] > chunk:
            log_px, sq_err, latent_nll = self._reconstruct_in_blocks(
                post.z0, context, target, chunk, reduce
            )
        else:
            log_px, sq_err, latent_nll, _ = self._reconstruct(
                post.z0, context, target.times, target.values, target.mask, reduce
            )
        t_mask = target.mask
        return BoundTerms(
            log_px=log_px,
            kl=post.kl,
            log_pz=standard_normal_log_prob(post.z0),
            log_q=post.log_q,
            sq_err=sq_err,
            n_obs=t_mask.sum(dim=(-1, -2)),
            penalty=post.penalty,
            latent_nll=latent_nll,
        )

    def _reconstruct(
        self,
        z0: torch.Tensor,
        context: IrregularBatch,
        t_times: torch.Tensor,
        t_values: torch.Tensor,
        t_mask: torch.Tensor,
        reduce: Callable[[list[float]], list[float]] | None = None,
        *,
        z: torch.Tensor | None = None,
        anchors: torch.Tensor | None = None,
        beta_scale: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Log-density ``(S, B)`` of the target values, the mean prediction's summed squared
        error ``(B,)``, in training the latent path's weighted term ``(S, B)`` (else None)
        at query ``t_times`` (``z``, ``anchors``: see :meth:`_states`), and, with β-NLL
        weights, their unscaled sum over the observed entries (else None).
        ``beta_scale=False`` leaves the log-density's β-NLL weights unscaled."""
        latent_nll, beta_total = None, None
        states = self._states(z0, context, t_times, z, anchors)
        terms = getattr(self.observation, "training_terms", None)
        if self.training and self.latent_weight > 0 and terms is not None:
            mean, log_std, path = terms(*states, t_values, t_mask)
            latent_nll = self.latent_weight * path
        else:
            mean, log_std = self.observation.distribution(*states)
        weights = t_mask
        if self.training and self.beta_nll > 0 and log_std is not None:
            w = _beta_weights(log_std, t_mask, self.beta_nll, reduce, scale=beta_scale)
            beta_total = (w * t_mask).sum().detach()
            weights = t_mask * w
        log_px = self.observation.log_prob(mean, t_values, weights, log_std)
        sq_err = ((mean.mean(0) - t_values).pow(2) * t_mask).sum(dim=(-1, -2))
        return log_px, sq_err, latent_nll, beta_total

    def _reconstruct_in_blocks(
        self,
        z0: torch.Tensor,
        context: IrregularBatch,
        target: IrregularBatch,
        chunk: int,
        reduce: Callable[[list[float]], list[float]] | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """:meth:`_reconstruct` summed over blocks of ``chunk`` query times.

        Each block's observation head is checkpointed (recomputed in the backward pass).
        With ``memory="auto"`` the latent states ``(S, B, Q, L)`` and the anchor features
        are computed once for every query. With ``"low"`` each block computes its own
        anchors and, on the step grid, solves its own states from ``z0``, in the checkpoint
        (so twice: 1.4x / 2.1x the default's epoch time at 1,000 / 10,000 points). The β-NLL
        weights are the whole batch's: each block's log-density is summed with unscaled
        weights, and the sum is scaled by the whole batch's factor (:func:`_beta_scale`).
        """
        n_queries = target.times.shape[1]
        low = self.memory == "low"
        # On the step grid the states do not depend on which times are asked: a block can
        # solve its own (from z0, again in the backward pass: the grid's steps, not the
        # queries', so cheap) instead of keeping the whole series' states and their graph.
        cfg = self.solver
        own_solve = low and cfg.method in DIRECT_METHODS and not cfg.adjoint
        own_solve = own_solve and cfg.step_size is not None
        z = None if own_solve else self._solve(z0, context, target.times)
        anchors = None
        if not low and self.observation.uses_anchors:
            anchors = self._states(z0, context, target.times, z)[1]
        blocks = [slice(a, min(a + chunk, n_queries)) for a in range(0, n_queries, chunk)]
        has_path = self.training and self.latent_weight > 0
        has_path = has_path and hasattr(self.observation, "training_terms")
        weighted: list[bool] = []  # whether the blocks' log-densities carry β-NLL weights

        def block(
            z_in: torch.Tensor, times: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, *a
        ) -> tuple[torch.Tensor, ...]:
            log_px, sq_err, path, total = self._reconstruct(
                z_in, context, times, values, mask, reduce,
                z=None if own_solve else z_in, anchors=a[0] if a else None, beta_scale=False,
            )  # fmt: skip
            weighted.append(total is not None)
            return (
                log_px,
                sq_err,
                torch.zeros_like(log_px) if path is None else path,
                log_px.new_zeros(()) if total is None else total,
            )

        sums = []
        for b in blocks:
            z_in = z0 if z is None else z[..., b, :]
            part = [z_in, target.times[:, b], target.values[:, b], target.mask[:, b]]
            if anchors is not None:
                part.append(anchors[:, b])
            sums.append(checkpoint_call(block, *part))
        log_px = torch.stack([s[0] for s in sums]).sum(0)
        if weighted[0]:
            total = torch.stack([s[3] for s in sums]).sum().detach()
            log_px = log_px * _beta_scale(total, target.mask.sum(), reduce)
        sq_err = torch.stack([s[1] for s in sums]).sum(0)
        latent_nll = torch.stack([s[2] for s in sums]).sum(0) if has_path else None
        return log_px, sq_err, latent_nll

    @torch.no_grad()
    def sample_means(
        self,
        context: IrregularBatch,
        times: torch.Tensor,
        n_samples: int,
        *,
        eps: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Observation means ``(S, B, Q, D)`` at ``times`` for ``S`` posterior samples.

        ``eps`` fixes the posterior's base noise (see ``GaussianPosterior.forward``).
        """
        return self.sample_predictive(context, times, n_samples, eps=eps)[0]

    @torch.no_grad()
    def sample_predictive(
        self,
        context: IrregularBatch,
        times: torch.Tensor,
        n_samples: int,
        *,
        eps: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Means ``(S, B, Q, D)`` at ``times`` for ``S`` posterior samples and the noise
        scales around them (broadcastable to the means)."""
        z0 = self.posterior(self.summary(context), n_samples, eps=eps).z0
        mean, log_std = self.decode(z0, context, times)
        return mean, self.observation.std if log_std is None else log_std.exp()

    @torch.no_grad()
    def latent_mean(self, context: IrregularBatch) -> torch.Tensor:
        """Posterior mean of ``z0`` ``(B, latent_dim)`` (for flows: mean of the base)."""
        return self.posterior.mean(self.summary(context))
