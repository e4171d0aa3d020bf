"""The real sets of the benchmark protocol: :data:`REAL_SETS`, a :class:`RealSet` each."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["REAL_SETS", "RealSet"]


@dataclasses.dataclass(frozen=True)
class RealSet:
    """A real set of the protocol: its loader in :mod:`latentode.datasets` with the
    keyword arguments of the full and the quick run, the columns scored (None: every
    feature) and the columns known ahead (covariates such as an infusion rate: shown to
    every method at the future times too, never scored; a forecaster takes them as
    ``covariate_cols``), and the value transforms a user would declare from what the
    features are (``feature_transforms``: log for the skewed positive lab values and the
    drug concentration, asinh for the signed, heavy-tailed delays; each of these features
    has a skewness above 1 in its training split)."""

    loader: str
    full: dict[str, Any]
    quick: dict[str, Any]
    targets: list[str] | None = None
    known: tuple[str, ...] = ()
    transforms: dict[str, str] = dataclasses.field(default_factory=dict)

    def load(self, quick: bool = False) -> Any:
        """The set's :class:`~latentode.datasets.RealDataset` (needs the ``real`` extra)."""
        from latentode import datasets  # resolved at call time: tests may replace a loader

        return getattr(datasets, self.loader)(**(self.quick if quick else self.full))


#: The real sets of ``benchmarks/real.py`` and ``latentode demo --dataset`` (the protocol:
#: :func:`latentode.evaluation.holdout_tasks`).
REAL_SETS: dict[str, RealSet] = {
    "nafld": RealSet(
        "load_nafld", {"n_series": 1000}, {"n_series": 300}, transforms={"fib4": "log"}
    ),
    "pbcseq": RealSet(
        "load_pbcseq",
        {},
        {},
        transforms={k: "log" for k in ("bili", "chol", "alk_phos", "ast", "platelet", "protime")},
    ),
    "remifentanil": RealSet(
        "load_remifentanil", {}, {}, ["conc"], ("rate",), transforms={"conc": "log"}
    ),
    "flights": RealSet(
        "load_flights",
        {"n_series": 400},
        {"n_series": 150, "max_len": 60},
        transforms={"dep_delay": "asinh", "arr_delay": "asinh"},
    ),
}
