from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from latentode.data import LongFrameEncoder
from latentode.datasets import list_bundled, load_bundled, load_csv
from latentode.exceptions import LongFrameError, ParameterError

SCRIPT = Path(__file__).resolve().parents[2] / "datasets" / "make_bundled.py"
DATA_DIR = Path(__file__).resolve().parents[2] / "latentode" / "datasets" / "data"


def test_list_bundled() -> None:
    assert list_bundled() == ["periodic_irregular", "sensors_irregular"]
    total = sum(p.stat().st_size for p in DATA_DIR.glob("*.csv.gz"))
    assert 0 < total < 1_000_000


def test_periodic_irregular() -> None:
    df = load_bundled()
    assert list(df.columns) == ["unique_id", "ds", "y"]
    assert df.shape == (15_000, 3) and df["unique_id"].nunique() == 300
    assert pd.api.types.is_string_dtype(df["unique_id"]) and df["ds"].dtype == np.float64
    grids = df.groupby("unique_id")["ds"].apply(tuple)
    assert grids.nunique() == 300  # a separate grid per series
    data = LongFrameEncoder().fit(df).transform(df)
    assert len(data) == 300 and data.n_observations == 15_000


def test_sensors_irregular() -> None:
    df = load_bundled("sensors_irregular")
    assert list(df.columns) == ["unique_id", "ds", "sensor_a", "sensor_b"]
    assert df["unique_id"].nunique() == 200
    assert pd.api.types.is_datetime64_any_dtype(df["ds"])
    assert (df["ds"].max() - df["ds"].min()) > pd.Timedelta(30, "D")
    missing = df[["sensor_a", "sensor_b"]].isna()
    assert missing.mean().between(0.15, 0.25).all()
    assert not missing.all(axis=1).any()
    data = LongFrameEncoder().fit(df).transform(df)
    assert data.n_features == 2 and data.n_observations == int((~missing).to_numpy().sum())


def test_load_bundled_returns_fresh_frames() -> None:
    a = load_bundled()
    a.loc[0, "y"] = -1.0
    assert load_bundled().loc[0, "y"] != -1.0


def test_unknown_bundled_name() -> None:
    with pytest.raises(ParameterError, match=r"must be one of \['periodic_irregular'"):
        load_bundled("mnist")


def _script() -> ModuleType:
    if not SCRIPT.exists():
        pytest.skip("datasets/make_bundled.py is not part of this installation")
    spec = importlib.util.spec_from_file_location("make_bundled", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["periodic_irregular", "sensors_irregular"])
def test_shipped_files_match_the_generation_script(name: str) -> None:
    built = _script().BUILDERS[name]()
    loaded = load_bundled(name)
    if "ds" in built and pd.api.types.is_datetime64_any_dtype(built["ds"]):
        built["ds"] = built["ds"].dt.as_unit(loaded["ds"].dt.unit)
    pd.testing.assert_frame_equal(loaded, built, check_dtype=False, rtol=1e-9)


def test_load_csv_numeric_and_gzip(tmp_path: Path) -> None:
    df = pd.DataFrame({"sid": ["007", "007", "12"], "t": [0.5, 1.5, 0.0], "v": [1.0, np.nan, 3.0]})
    plain = tmp_path / "x.csv"
    df.to_csv(plain, index=False)
    packed = tmp_path / "x.csv.gz"
    with gzip.open(packed, "wt") as fh:
        df.to_csv(fh, index=False)
    for path in (plain, str(packed)):
        out = load_csv(path, id_col="sid", time_col="t")
        assert out["sid"].tolist() == ["007", "007", "12"]
        pd.testing.assert_frame_equal(out.drop(columns="sid"), df.drop(columns="sid"))


def test_load_csv_dates(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "unique_id,ds,y\na,2024-01-01T10:00:00,1\na,2024-01-02,2\nb,2024-01-03 08:30,3\n"
    )
    out = load_csv(path, parse_dates=True)
    assert pd.api.types.is_datetime64_any_dtype(out["ds"])
    assert out["ds"].tolist() == [
        pd.Timestamp("2024-01-01 10:00"),
        pd.Timestamp("2024-01-02"),
        pd.Timestamp("2024-01-03 08:30"),
    ]
    with pytest.raises(LongFrameError, match=r"is not numeric .* pass parse_dates=True"):
        load_csv(path)
    bad = tmp_path / "bad.csv"
    bad.write_text("unique_id,ds,y\na,yesterday,1\n")
    with pytest.raises(LongFrameError, match="could not be parsed as datetimes"):
        load_csv(bad, parse_dates=True)
    with pytest.raises(
        LongFrameError, match=r"The time column 'when' is missing .*\['unique_id', 'ds', 'y'\]"
    ):
        load_csv(path, time_col="when")
    with pytest.raises(FileNotFoundError):
        load_csv(tmp_path / "nope.csv")
