"""Multiple shooting on windows of observations: the training objective and state fits.

Training (:class:`MultipleShooting`) cuts each trajectory into windows of ``W`` consecutive
observations (:func:`gather_windows`). Every observation time carries a free *shooting
node* — the state at that time, initialised at the (interpolated) observation — so a window
starts from a denoised, fully observed state; the node and the field are both fitted to the
window's observations. Short windows keep gradients stable however long the trajectories;
sharing nodes between overlapping windows ties them into one consistent trajectory.

At prediction time :func:`fit_window_states` estimates the state at the start of a window of
observations (noisy, possibly partially observed) by least squares through the learned
dynamics, with the field frozen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from latentode.models.dynamics import ODEDynamics

__all__ = ["MultipleShooting", "WindowBatch", "fit_window_states", "gather_windows"]


class WindowBatch:
    """Windows of ``W`` consecutive observations (padding repeats the last time, mask 0).

    Attributes
    ----------
    times : Tensor of shape (B, W), float64
    values, mask : Tensor of shape (B, W, D), float32
    flat_index : Tensor of shape (B,), long
        ``series * K + start``: the shooting node of each window's first observation.
    """

    def __init__(
        self,
        times: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor,
        flat_index: torch.Tensor,
    ) -> None:
        self.times = times
        self.values = values
        self.mask = mask
        self.flat_index = flat_index


def gather_windows(
    times: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    series: torch.Tensor,
    starts: torch.Tensor,
    width: int,
) -> WindowBatch:
    """Cut windows of ``width`` observations out of padded series.

    Parameters
    ----------
    times : Tensor of shape (N, K); values, mask : Tensor of shape (N, K, D)
        Padded series (see :func:`latentode.data.collate`).
    lengths : Tensor of shape (N,)
    series, starts : Tensor of shape (B,), long
        Series and first observation of each window.
    width : int
        Observations per window; windows running past a series' end are padded.
    """
    offsets = torch.arange(width, device=times.device)
    j = starts.unsqueeze(1) + offsets  # (B, W)
    last = (lengths.index_select(0, series) - 1).unsqueeze(1)
    valid = (j <= last).to(mask.dtype)
    jc = torch.minimum(j, last)
    rows = series.unsqueeze(1)
    return WindowBatch(
        times[rows, jc],
        values[rows, jc],
        mask[rows, jc] * valid.unsqueeze(-1),
        series * times.shape[1] + starts,
    )


def _masked_sq_error(pred: torch.Tensor, batch: WindowBatch) -> tuple[torch.Tensor, torch.Tensor]:
    d = batch.values.shape[-1]
    err = (pred[..., :d] - batch.values) ** 2 * batch.mask
    return err.sum(), batch.mask.sum()


class MultipleShooting(nn.Module):
    """Training objective: window MSE from learned (or fixed) shooting nodes.

    Parameters
    ----------
    dynamics : ODEDynamics
    init_states : Tensor of shape (N, K, D)
        Initial node values: the scaled observations with missing entries interpolated.
    learn_nodes : bool
        Fit the nodes (and their augmented coordinates) with the field; otherwise every
        window starts from ``init_states`` (augmented coordinates 0).
    """

    def __init__(self, dynamics: ODEDynamics, init_states: torch.Tensor, learn_nodes: bool):
        super().__init__()
        self.dynamics = dynamics
        nodes = dynamics.lift(init_states.to(torch.float32)).reshape(
            -1, dynamics.state_dim
        )  # (N*K, L)
        if learn_nodes:
            self.nodes = nn.Parameter(nodes.clone())
        else:
            self.register_buffer("nodes", nodes.clone())

    def forward(self, batch: WindowBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed squared error over observed window entries, and their count."""
        z0 = self.nodes.index_select(0, batch.flat_index)
        pred = self.dynamics.trajectory(z0, batch.times)
        return _masked_sq_error(pred, batch)


def fit_window_states(
    dynamics: ODEDynamics,
    batch: WindowBatch,
    init: torch.Tensor,
    *,
    steps: int,
    eps: float = 1e-2,
) -> torch.Tensor:
    """Least-squares states at each window's first time, through the frozen dynamics.

    Minimises, for every window independently, the squared error between the trajectory
    started from ``z`` and the window's observed entries, by ``steps`` Levenberg–Marquardt
    (damped Gauss–Newton) iterations. The trajectory's sensitivity to ``z`` comes from
    central differences (step ``eps`` in scaled units): the ``2 L + 1`` perturbed starts
    are solved together, as a leading batch dimension, in one solve per iteration.

    Parameters
    ----------
    dynamics : ODEDynamics
    batch : WindowBatch
    init : Tensor of shape (B, L)
        Starting guess (e.g. the interpolated first observation, augmented with zeros).
    steps : int
        Iterations; 0 returns ``init``.

    Returns
    -------
    Tensor of shape (B, L), detached.
    """
    z = init.detach().clone()
    if steps == 0 or batch.times.shape[1] < 2:
        return z
    n_states, d = z.shape[-1], batch.values.shape[-1]
    offsets = torch.cat(
        [z.new_zeros(1, n_states), eps * torch.eye(n_states), -eps * torch.eye(n_states)]
    ).to(z.device)
    weight = batch.mask.reshape(len(z), -1, 1).double()  # (B, W*D, 1)
    target = batch.values.reshape(len(z), -1).double()
    with torch.no_grad():
        for _ in range(steps):
            starts = z.unsqueeze(0) + offsets.unsqueeze(1)  # (2L+1, B, L)
            paths = dynamics.trajectory(starts, batch.times)[..., :d].double()
            paths = paths.reshape(2 * n_states + 1, len(z), -1)  # (2L+1, B, W*D)
            jac = ((paths[1 : n_states + 1] - paths[n_states + 1 :]) / (2 * eps)).permute(
                1, 2, 0
            )  # (B, W*D, L)
            resid = (target - paths[0]).unsqueeze(-1)
            jtw = (jac * weight).transpose(1, 2)
            normal = jtw @ jac
            damping = 1e-6 * normal.diagonal(dim1=1, dim2=2).mean(-1) + 1e-9
            normal = normal + damping[:, None, None] * torch.eye(n_states, dtype=normal.dtype)
            step = torch.linalg.solve(normal, jtw @ resid).squeeze(-1)
            z = z + step.to(z.dtype)
    return z
