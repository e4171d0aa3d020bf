"""Reverse each padded series in time, keeping padding at the end."""

from __future__ import annotations

import torch

__all__ = ["reverse_padded"]


def reverse_padded(
    lengths: torch.Tensor, *tensors: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Reverse the first ``lengths[b]`` steps of each row ``b``.

    Parameters
    ----------
    lengths : Tensor of shape (B,)
    *tensors : Tensors of shape (B, K, ...)

    Returns
    -------
    valid : bool Tensor of shape (B, K)
        True on real (non-padding) steps of the reversed rows.
    reversed : list of Tensors, same shapes as ``tensors``.
    """
    n_steps = tensors[0].shape[1]
    steps = torch.arange(n_steps, device=lengths.device)
    valid = steps.unsqueeze(0) < lengths.unsqueeze(1)
    index = (lengths.unsqueeze(1) - 1 - steps.unsqueeze(0)).clamp(min=0)
    out = []
    for x in tensors:
        idx = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
        out.append(torch.gather(x, 1, idx))
    return valid, out
