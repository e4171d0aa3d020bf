"""Counting vector-field evaluations (NFE): :class:`NFECounter`."""

from __future__ import annotations

from latentode._deadline import check_deadline

__all__ = ["NFECounter"]


class NFECounter:
    """Counts vector-field evaluations, split into forward and backward passes.

    ``forward`` counts evaluations made while solving forward; ``backward`` those made
    afterwards, in the backward pass: an adjoint's backward solve, and the forward steps a
    checkpointed encoder loop recomputes (:mod:`latentode.nn._scan`; real work, so
    counted). Plain back-propagation through a recorded graph adds none: it replays the
    graph instead of calling ``f``. Every solver path counts
    through :meth:`tick`, which is also where a :func:`latentode.deadline` is checked.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.forward = 0

    @property
    def backward(self) -> int:
        return self.calls - self.forward

    def tick(self, n: int = 1) -> None:
        """Count ``n`` evaluations, and stop if a :func:`latentode.deadline` has passed."""
        self.calls += n
        check_deadline()

    def reset(self) -> None:
        self.calls = 0
        self.forward = 0
