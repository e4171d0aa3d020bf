"""Per-feature value transforms (``feature_transforms``): the maps, their means and
Jacobians, and the encoder's checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from latentode.data import LongFrameEncoder
from latentode.data._transforms import TRANSFORMS, FeatureTransforms
from latentode.exceptions import LongFrameError

#: A point inside each transform's domain, and a spread of points there.
INSIDE = {
    "log": np.array([0.01, 0.5, 1.0, 7.0, 300.0]),
    "log1p": np.array([-0.99, -0.2, 0.0, 3.0, 300.0]),
    "asinh": np.array([-400.0, -1.0, 0.0, 0.3, 50.0]),
    "logit": np.array([1e-3, 0.2, 0.5, 0.9, 0.999]),
}


@pytest.mark.parametrize("kind", sorted(TRANSFORMS))
def test_inverse_undoes_forward_and_nan_stays_nan(kind):
    t = FeatureTransforms((kind, None), (3.0, 0.0), (40.0, 1.0))  # asinh: loc 3, scale 40
    x = np.column_stack([np.append(INSIDE[kind], np.nan), np.arange(6.0)])
    y = t.forward(x)
    assert np.isnan(y[-1, 0]) and np.isfinite(y[:-1]).all()
    np.testing.assert_array_equal(y[:, 1], x[:, 1])  # the untransformed feature
    np.testing.assert_allclose(t.inverse(y)[:-1], x[:-1], rtol=1e-9, atol=1e-12)
    assert (np.diff(y[:-1, 0]) > 0).all()  # increasing: quantiles map through it


@pytest.mark.parametrize("kind", sorted(TRANSFORMS))
def test_log_derivative_is_the_log_slope_of_the_transform(kind):
    t = FeatureTransforms((kind,), (3.0,), (40.0,))
    x = INSIDE[kind][1:-1]
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    if kind == "logit":
        h = np.minimum(h, 1e-7)
    slope = (t.forward((x + h)[:, None]) - t.forward((x - h)[:, None]))[:, 0] / (2 * h)
    y = torch.as_tensor(t.forward(x[:, None]))
    got = t.log_derivative(y)[:, 0].numpy()
    np.testing.assert_allclose(got, np.log(slope), rtol=1e-5, atol=1e-9)


def _frame(values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], len(values) // 2),
            "ds": np.tile(np.arange(len(values) // 2, dtype=float), 2),
            "conc": values,
            "temp": np.linspace(-1.0, 1.0, len(values)),
        }
    )


def test_encoder_scales_the_transformed_values_and_maps_back():
    df = _frame(np.array([1.0, 2.0, np.nan, 8.0, 0.5, 4.0]))
    enc = LongFrameEncoder(transforms={"conc": "log"}).fit(df)
    logs = np.log(df["conc"].dropna())
    np.testing.assert_allclose(enc.scaler_.mean[0], logs.mean())
    data = enc.transform(df)
    values = np.concatenate([s.values for s in data])
    mask = np.concatenate([s.mask for s in data])
    back = enc.inverse_values(values.astype(np.float64))
    np.testing.assert_allclose(back[mask[:, 0], 0], df["conc"].dropna(), rtol=1e-6)
    np.testing.assert_allclose(back[:, 1], df["temp"], rtol=1e-6, atol=1e-7)  # untouched
    # The Jacobian of x -> scaled value: -log std, and -log x for the log.
    jac = enc.log_derivative(torch.as_tensor(values, dtype=torch.float64)).numpy()
    want = -np.log(enc.scaler_.std) + np.column_stack([-np.log(back[:, 0]), np.zeros(len(back))])
    np.testing.assert_allclose(jac, want, rtol=1e-6)
    # Saved and read back (and an encoder saved before transforms existed reads as none).
    again = LongFrameEncoder.from_dict(enc.to_dict())
    np.testing.assert_allclose(again.inverse_values(values), back)
    old = enc.to_dict()
    del old["transforms"]
    plain = LongFrameEncoder.from_dict(old)
    assert not plain.has_transforms and enc.has_transforms


def test_a_value_outside_the_domain_is_refused_naming_series_time_and_column():
    df = _frame(np.array([1.0, 2.0, 3.0, 8.0, 0.0, 4.0]))
    with pytest.raises(LongFrameError, match=r"'conc'.*'log'.*> 0; series 'b' has 0 at time 1\.0"):
        LongFrameEncoder(transforms={"conc": "log"}).fit(df)
    enc = LongFrameEncoder(transforms={"conc": "log1p"}).fit(df)  # zeros are fine for log1p
    with pytest.raises(LongFrameError, match=r"'conc'.*'log1p'.*> -1.*series 'a'"):
        enc.transform(_frame(np.array([1.0, -2.0, 3.0, 8.0, 0.0, 4.0])))


def test_unknown_columns_and_transform_names_are_refused():
    df = _frame(np.array([1.0, 2.0, 3.0, 8.0, 0.5, 4.0]))
    with pytest.raises(LongFrameError, match=r"names \['dose'\].*not feature columns"):
        LongFrameEncoder(transforms={"dose": "log"}).fit(df)
    with pytest.raises(LongFrameError, match=r"one of \['asinh', 'log', 'log1p', 'logit'\]"):
        LongFrameEncoder(transforms={"conc": "sqrt"}).fit(df)


def test_asinh_is_centred_and_scaled_by_the_training_median_and_mad():
    x = np.array([-8.0, -2.0, 0.0, 1.0, 3.0, 40.0, 600.0, np.nan])[:, None]
    t = FeatureTransforms.fit({"delay": "asinh"}, ["delay"], x)
    med = np.nanmedian(x)
    mad = np.nanmedian(np.abs(x - med))
    assert t.loc == (med,) and t.scale == (mad,)
    np.testing.assert_allclose(t.forward(x)[:-1, 0], np.arcsinh((x[:-1, 0] - med) / mad))
    again = FeatureTransforms.from_dict(t.to_dict(["delay"]), ["delay"])
    assert again == t
    # Quantiles are taken in transformed units: equal to the back-transformed ones.
    draws = t.inverse(np.linspace(-3, 3, 7)[:, None])[:, 0]
    np.testing.assert_allclose(
        t.quantile(0, draws, [0.1, 0.5]),
        t.inverse(np.quantile(np.linspace(-3, 3, 7), [0.1, 0.5])[:, None])[:, 0],
    )
