"""Counting vector-field evaluations (NFE): :class:`NFECounter`."""

from __future__ import annotations

__all__ = ["NFECounter"]


class NFECounter:
    """Counts vector-field evaluations, split into forward and backward passes.

    ``forward`` counts evaluations made while solving forward; ``backward`` those made
    afterwards by an adjoint backward solve (0 for direct back-propagation, whose backward
    pass replays the recorded graph instead of calling ``f``).
    """

    def __init__(self) -> None:
        self.calls = 0
        self.forward = 0

    @property
    def backward(self) -> int:
        return self.calls - self.forward

    def reset(self) -> None:
        self.calls = 0
        self.forward = 0
