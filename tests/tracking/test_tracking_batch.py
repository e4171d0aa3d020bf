"""batch_predict: lazy parquet input, whole series per partition, resumable, no partial files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

from latentode.exceptions import ParameterError
from latentode.tracking import batch_predict

KW: dict[str, Any] = {"horizon": 1.5, "n_points": 3, "quantiles": [0.1, 0.9], "coverage": 0.8}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, series_maker: Any) -> Path:
    """Ten series spread over three parquet files (one series split across two files)."""
    root = tmp_path_factory.mktemp("batch") / "history"
    (root / "2024").mkdir(parents=True)
    frame = series_maker(10, seed=3)
    cut1, cut2 = len(frame) // 3, 2 * len(frame) // 3
    frame.iloc[:cut1].to_parquet(root / "a.parquet")
    frame.iloc[cut1:cut2].to_parquet(root / "2024" / "b.parquet")
    frame.iloc[cut2:].to_parquet(root / "2024" / "c.parquet")
    return root


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, forecaster: Any, series_maker: Any) -> Path:
    path = tmp_path_factory.mktemp("batch-model") / "model"
    forecaster().fit(series_maker(20, seed=0)).save(path)
    return path


def _parts(out: Path) -> list[Path]:
    return sorted(out.glob("part-*.parquet"))


def test_partitions_hold_whole_series_and_equal_in_memory_forecasts(
    source: Path, model: Path, tmp_path: Path, series_maker: Any
) -> None:
    from latentode import load

    out = tmp_path / "out"
    report = batch_predict(model, source, out, series_per_batch=4, progress=False, **KW)
    assert (report.n_series, report.n_partitions) == (10, 3)
    assert report.written == (0, 1, 2) and report.skipped == ()
    est = load(model)
    history = series_maker(10, seed=3)
    ids = sorted(history["unique_id"].unique())
    for k, part in enumerate(_parts(out)):
        got = pd.read_parquet(part)
        batch = ids[4 * k : 4 * k + 4]
        assert sorted(got["unique_id"].unique()) == batch  # whole series, sorted ids
        want = est.predict_distribution(
            history[history["unique_id"].isin(batch)], alpha=KW["quantiles"], **_rest()
        )
        got = got.sort_values(["unique_id", "ds"]).reset_index(drop=True)
        want = want.sort_values(["unique_id", "ds"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-6, atol=1e-9)
    assert list(got.columns)[2:] == ["y", "y_q0.1", "y_q0.9", "y_lower", "y_upper"]

    # Nothing to do on a re-run; other settings into the same directory are refused.
    again = batch_predict(model, source, out, series_per_batch=4, progress=False, **KW)
    assert again.written == () and again.skipped == (0, 1, 2)
    with pytest.raises(ParameterError, match=r"another batch_predict run \(differs in: params\)"):
        other = {**KW, "n_points": 4}
        batch_predict(model, source, out, series_per_batch=4, progress=False, **other)
    with pytest.raises(ParameterError, match="n_partitions, series_per_batch"):
        batch_predict(model, source, out, series_per_batch=5, progress=False, **KW)


def _rest() -> dict[str, Any]:
    return {k: v for k, v in KW.items() if k != "quantiles"}


def test_foreign_partitions_and_bad_arguments_are_refused(
    source: Path, model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    pl.DataFrame({"x": [1]}).write_parquet(out / "part-00000.parquet")
    with pytest.raises(ParameterError, match=r"holds partitions but no _manifest\.json"):
        batch_predict(model, source, out, progress=False, **KW)
    with pytest.raises(ParameterError, match="'series_per_batch' must be an int >= 1"):
        batch_predict(model, source, tmp_path / "o2", series_per_batch=0, **KW)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No parquet files under"):
        batch_predict(model, tmp_path / "empty", tmp_path / "o3", **KW)
    with pytest.raises(FileNotFoundError, match="No such file or directory"):
        batch_predict(model, tmp_path / "missing", tmp_path / "o3", **KW)


_CHILD = """
import sys, time
import latentode.tracking._batch as b
write = b._write
def slow(frame, path):
    write(frame, path)
    time.sleep(30)          # the parent kills the run here, after the first partition
b._write = slow
b.batch_predict(sys.argv[1], sys.argv[2], sys.argv[3], horizon=1.5, n_points=3,
                quantiles=[0.1, 0.9], coverage=0.8, series_per_batch=4, progress=False)
"""


def test_a_run_killed_after_its_first_partition_resumes_with_only_the_missing_ones(
    source: Path, model: Path, tmp_path: Path
) -> None:
    out, clean = tmp_path / "out", tmp_path / "clean"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(model), str(source), str(out)])
    try:
        deadline = time.monotonic() + 120
        while not _parts(out) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert [p.name for p in _parts(out)] == ["part-00000.parquet"]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    first = _parts(out)[0].stat()
    # What a kill mid-write leaves: a temporary file, never a partition under its final name.
    (out / ".part-00001.parquet.tmp-deadbeef").write_bytes(b"PAR1 half")
    report = batch_predict(model, source, out, series_per_batch=4, progress=False, **KW)
    assert report.skipped == (0,) and report.written == (1, 2)
    assert _parts(out)[0].stat().st_mtime_ns == first.st_mtime_ns  # not rewritten
    assert sorted(p.name for p in out.iterdir()) == [
        "_manifest.json",
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    batch_predict(model, source, clean, series_per_batch=4, progress=False, **KW)
    for resumed, fresh in zip(_parts(out), _parts(clean), strict=True):
        pd.testing.assert_frame_equal(pd.read_parquet(resumed), pd.read_parquet(fresh))
