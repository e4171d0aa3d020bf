"""The evaluation masking protocol on arrays, used to train and calibrate baselines.

Mirrors :func:`latentode.evaluation.extrapolation_task` (hide each series' last 20 % of
timestamps) and :func:`latentode.evaluation.interpolation_task` (hide a random 30 % of the
observed values) on the series of an :class:`~latentode.data.IrregularDataset`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from latentode.data import Series

__all__ = ["Task", "masked_tasks"]


@dataclass(frozen=True)
class Task:
    """One masked series: the visible history and the hidden targets.

    ``times (n,)``, ``values (n, D)``, ``mask (n, D)``: the history; ``query (k,)``,
    ``target (k, D)``, ``target_mask (k, D)``: the hidden values and where they are.
    """

    series: int
    times: np.ndarray
    values: np.ndarray
    mask: np.ndarray
    query: np.ndarray
    target: np.ndarray
    target_mask: np.ndarray


def masked_tasks(
    series: Iterable[Series],
    rng: np.random.Generator,
    *,
    n_repeats: int = 1,
    extrap_fraction: float = 0.2,
    interp_fraction: float = 0.3,
) -> Iterator[Task]:
    """Yield an extrapolation and an interpolation task per series and repeat.

    Series with fewer than two rows yield nothing; a task leaves at least one observed
    value visible.
    """
    for _ in range(n_repeats):
        for i, s in enumerate(series):
            n = s.times.shape[0]
            if n < 2:
                continue
            values = s.values.astype(np.float64)
            k = max(1, round(extrap_fraction * n))
            cut = n - k
            if s.mask[:cut].any():
                yield Task(
                    i,
                    s.times[:cut],
                    values[:cut],
                    s.mask[:cut],
                    s.times[cut:],
                    values[cut:],
                    s.mask[cut:],
                )
            rows, cols = np.nonzero(s.mask)
            n_hide = min(round(interp_fraction * rows.size), rows.size - 1)
            if n_hide < 1:
                continue
            pick = rng.choice(rows.size, size=n_hide, replace=False)
            hidden = np.zeros_like(s.mask)
            hidden[rows[pick], cols[pick]] = True
            q_rows = hidden.any(axis=1)
            yield Task(
                i,
                s.times,
                values,
                s.mask & ~hidden,
                s.times[q_rows],
                values[q_rows],
                hidden[q_rows],
            )
