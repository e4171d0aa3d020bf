"""Print the shape and irregularity of the real data sets (figures of datasets/README.md).

Run: ``python datasets/real_stats.py`` (needs the ``real`` extra). Gaps are per series
between consecutive rows; "gap CV" is the std / mean of all gaps pooled; "missing" is the
share of NaN feature cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from latentode import datasets

SETS = {
    "load_nafld()": datasets.load_nafld,
    "load_nafld(n_series=300)": lambda: datasets.load_nafld(n_series=300),
    "load_pbcseq()": datasets.load_pbcseq,
    "load_remifentanil()": datasets.load_remifentanil,
    "load_flights()": datasets.load_flights,
    "load_flights(n_series=150, max_len=60)": lambda: datasets.load_flights(150, max_len=60),
}


def stats(frame: pd.DataFrame, unit: str) -> dict[str, object]:
    gaps = frame.groupby("unique_id")["ds"].diff().dropna()
    if pd.api.types.is_datetime64_any_dtype(frame["ds"]):
        gaps, unit = gaps.dt.total_seconds() / 3600.0, "hours"
    features = frame.columns[2:]
    return {
        "series": frame["unique_id"].nunique(),
        "rows": len(frame),
        "features": len(features),
        "rows/series (median)": float(frame.groupby("unique_id").size().median()),
        "median gap": f"{gaps.median():.3g} {unit}",
        "gap CV": round(float(gaps.std() / gaps.mean()), 2),
        "missing": f"{100 * float(np.isnan(frame[features].to_numpy()).mean()):.0f} %",
    }


if __name__ == "__main__":
    units = {"load_remifentanil()": "min"}
    rows = {name: stats(load().frame, units.get(name, "days")) for name, load in SETS.items()}
    print(pd.DataFrame(rows).T.to_string())
