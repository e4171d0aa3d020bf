"""``CovariateEncoder``: known time-varying covariates as per-series paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentode.data import CovariateEncoder, LongFrameEncoder, LongFrameSpec
from latentode.exceptions import LongFrameError


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": ["b", "b", "b", "a", "a", "a"],
            "ds": [2.0, 0.0, 1.0, 0.0, 3.0, 1.0],  # unsorted on purpose
            "y": [1.0, np.nan, 2.0, 0.5, np.nan, 1.5],
            "rate": [np.nan, 4.0, 0.0, np.nan, 2.0, 6.0],
            "dose": [1.0, np.nan, np.nan, 3.0, 3.0, 3.0],
        }
    )


def test_paths_are_sorted_standardised_and_filled_forward_then_back():
    df = _frame()
    times = LongFrameEncoder(LongFrameSpec(feature_cols=("y",))).fit(df).time_
    enc = CovariateEncoder("unique_id", "ds", ["rate", "dose"]).fit(df)
    np.testing.assert_allclose(enc.mean_, [3.0, 2.5])
    np.testing.assert_allclose(enc.scale_, [np.std([4.0, 0.0, 2.0, 6.0]), np.std([1.0, 3, 3, 3])])
    a, b = enc.transform(df, ["a", "b"], times)
    np.testing.assert_allclose(a.times, times.encode(pd.Series([0.0, 1.0, 3.0])))
    raw_a = a.values * enc.scale_ + enc.mean_
    # a: rate NaN at t=0 takes its first value (6 at t=1); dose is always there
    np.testing.assert_allclose(raw_a, [[6.0, 3.0], [6.0, 3.0], [2.0, 3.0]], atol=1e-6)
    raw_b = b.values * enc.scale_ + enc.mean_
    # b: dose only at t=2, so before it the first value; rate 0 from t=1 on
    np.testing.assert_allclose(raw_b, [[4.0, 1.0], [0.0, 1.0], [0.0, 1.0]], atol=1e-6)
    again = CovariateEncoder.from_dict(enc.to_dict())
    np.testing.assert_allclose(again.transform(df, ["b"], times)[0].values, b.values)


def test_a_series_without_a_covariate_value_is_named():
    df = _frame()
    times = LongFrameEncoder(LongFrameSpec(feature_cols=("y",))).fit(df).time_
    enc = CovariateEncoder("unique_id", "ds", ["rate", "dose"]).fit(df)
    gap = df.assign(dose=np.where(df["unique_id"] == "b", np.nan, df["dose"]))
    with pytest.raises(
        LongFrameError, match=r"Series 'b' has no value of the covariate\(s\) \['dose'\]"
    ):
        enc.transform(gap, ["a", "b"], times)
    with pytest.raises(LongFrameError, match="covariate columns"):
        CovariateEncoder("unique_id", "ds", ["rate"]).fit(df.drop(columns=["rate"]))
    with pytest.raises(LongFrameError, match="hold no value"):
        CovariateEncoder("unique_id", "ds", ["rate", "dose"]).fit(df.assign(dose=np.nan))
