"""Batch forecasting over a parquet data set too large for memory: lazy, partitioned, resumable.

:func:`batch_predict` scans the input lazily with polars (``scan_parquet``), cuts the sorted
series ids into fixed batches of whole series, and writes one parquet partition per batch.
Only one batch of rows is in memory at a time. Each partition is written to a temporary
name and renamed when complete, and a manifest records what the output directory holds:
a re-run after a crash writes only the missing partitions, and a re-run with other inputs
or settings is refused instead of mixing two runs in one directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentode.exceptions import ParameterError

__all__ = ["BatchReport", "batch_predict"]

logger = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
FORMAT = "latentode-batch-predict"


@dataclass(frozen=True)
class BatchReport:
    """What :func:`batch_predict` did: partitions written now and found complete."""

    output: Path
    n_series: int
    n_partitions: int
    written: tuple[int, ...]
    skipped: tuple[int, ...]
    seconds: float


def batch_predict(
    model: Any,
    source: str | Path,
    output: str | Path,
    *,
    horizon: float,
    n_points: int = 10,
    quantiles: Sequence[float] = (),
    coverage: float | Sequence[float] | None = None,
    n_samples: int | None = None,
    series_per_batch: int = 1000,
    progress: bool = True,
) -> BatchReport:
    """Forecast every series of a parquet data set, ``series_per_batch`` series at a time.

    Parameters
    ----------
    model : LatentODEForecaster, path or str
        A fitted forecaster, a saved model directory, or an MLflow model URI
        (``models:/name@alias``, read with :func:`load_estimator`).
    source : path
        A parquet file or a directory of them (searched recursively): the long-format
        history (id, time, feature columns), as many rows as the disk holds.
    output : path
        Directory of partitions ``part-00000.parquet``, … (one per batch of series; each
        the frame of :meth:`LatentODEForecaster.predict_distribution`) and a manifest.
    horizon, n_points : float, int
        Forecast ``n_points`` times up to ``horizon`` after each series' last observation.
    quantiles, coverage, n_samples
        As in :meth:`~LatentODEForecaster.predict_distribution`.
    series_per_batch : int, default=1000
        Whole series per batch; peak memory grows with it (one batch of rows and its
        forecasts), not with the size of ``source``.

    Returns
    -------
    BatchReport

    Raises
    ------
    ParameterError
        If ``output`` holds partitions of another run (other input ids, model or
        settings): choose a new directory or empty it.
    """
    import polars as pl

    start = time.perf_counter()
    if not isinstance(series_per_batch, int) or series_per_batch < 1:
        raise ParameterError(f"'series_per_batch' must be an int >= 1. Got {series_per_batch!r}.")
    est = _estimator(model)
    scan = _scan(Path(source))
    ids = scan.select(pl.col(est.id_col).unique()).collect()[est.id_col].sort().to_list()
    batches = [ids[i : i + series_per_batch] for i in range(0, len(ids), series_per_batch)]
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": FORMAT,
        # The weights themselves: an alias that moved between two runs is another model.
        "model_sha256": _weights_digest(est),
        "ids_sha256": hashlib.sha256(json.dumps([str(i) for i in ids]).encode()).hexdigest(),
        "n_series": len(ids),
        "n_partitions": len(batches),
        "series_per_batch": series_per_batch,
        "params": {
            "horizon": horizon,
            "n_points": n_points,
            "quantiles": list(quantiles),
            "coverage": coverage if not isinstance(coverage, tuple) else list(coverage),
            "n_samples": n_samples,
        },
    }
    _check_manifest(out, manifest)
    for leftover in out.glob(".part-*.tmp-*"):  # a killed run's unfinished partition
        leftover.unlink(missing_ok=True)
    written, skipped = [], []
    from tqdm.auto import tqdm

    for k, batch in enumerate(tqdm(batches, desc="batch_predict", disable=not progress)):
        path = out / f"part-{k:05d}.parquet"
        if path.is_file():
            skipped.append(k)
            continue
        frame = scan.filter(pl.col(est.id_col).is_in(batch)).collect()
        forecast = est.predict_distribution(
            frame,
            horizon=horizon,
            n_points=n_points,
            alpha=list(quantiles),
            coverage=coverage,
            n_samples=n_samples,
        )
        _write(forecast, path)
        written.append(k)
        logger.info("partition %d: %d series, %d rows", k, len(batch), forecast.height)
    report = BatchReport(
        out, len(ids), len(batches), tuple(written), tuple(skipped), time.perf_counter() - start
    )
    logger.info(
        "batch_predict: %d partitions written, %d already complete, %.1f s",
        len(written),
        len(skipped),
        report.seconds,
    )
    return report


def _estimator(model: Any) -> Any:
    from latentode import load
    from latentode.tracking._registry import load_estimator

    if isinstance(model, (str, Path)):
        text = str(model)
        return load_estimator(text) if text.startswith(("models:/", "runs:/")) else load(text)
    if not hasattr(model, "predict_distribution"):
        raise ParameterError(
            f"batch_predict forecasts with a LatentODEForecaster; got {type(model).__name__}."
        )
    return model


def _weights_digest(est: Any) -> str:
    digest = hashlib.sha256()
    for name, tensor in est.module_.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _scan(source: Path) -> Any:
    import polars as pl

    if source.is_dir():
        files = sorted(str(p) for p in source.rglob("*.parquet") if not p.name.startswith("."))
        if not files:
            raise FileNotFoundError(f"No parquet files under {str(source)!r}.")
        return pl.scan_parquet(files)
    if not source.is_file():
        raise FileNotFoundError(f"No such file or directory: {str(source)!r}")
    return pl.scan_parquet(str(source))


def _check_manifest(out: Path, manifest: dict[str, Any]) -> None:
    from latentode._persist import atomic_file

    path = out / MANIFEST
    if path.is_file():
        try:
            found = json.loads(path.read_text())
        except ValueError:
            found = None
        if found != manifest:
            differ = (
                sorted(k for k in manifest if found.get(k) != manifest[k])
                if isinstance(found, dict)
                else ["the manifest is unreadable"]
            )
            raise ParameterError(
                f"{str(out)!r} holds the partitions of another batch_predict run (differs in: "
                f"{', '.join(differ)}). Write to a new directory or empty this one."
            )
        return
    if any(out.glob("part-*.parquet")):
        raise ParameterError(
            f"{str(out)!r} holds partitions but no {MANIFEST}: not written by batch_predict. "
            "Write to a new directory or empty this one."
        )
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")


def _write(frame: Any, path: Path) -> None:
    from latentode._persist import atomic_file
    from latentode.data import to_pandas

    with atomic_file(path) as tmp:
        if hasattr(frame, "write_parquet"):
            frame.write_parquet(tmp)
        else:
            to_pandas(frame).to_parquet(tmp, index=False)
