"""Reader of PhysioNet / Computing in Cardiology Challenge 2012 ICU records."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from latentode.datasets._real import RealDataset, finish
from latentode.exceptions import LongFrameError

__all__ = ["load_physionet2012"]

logger = logging.getLogger(__name__)

PHYSIONET_STATIC = ["Age", "Gender", "Height", "ICUType", "Weight"]


def load_physionet2012(path: str | Path, *, features: list[str] | None = None) -> RealDataset:
    """Read a folder of PhysioNet 2012 challenge records (``set-a/`` etc.).

    Each record is a ``<RecordID>.txt`` file with the header ``Time,Parameter,Value`` and
    one measurement per line, ``Time`` as ``"HH:MM"`` since ICU admission (hours may pass
    24). The leading lines at ``00:00`` hold the general descriptors ``RecordID``, ``Age``,
    ``Gender``, ``Height``, ``ICUType`` and ``Weight``; later ``Weight`` lines are
    measurements.

    Parameters
    ----------
    path : str or Path
        Folder holding the ``.txt`` records (files in sub-folders are not read).
    features : list of str or None, default None
        Time-varying parameters to keep, in this order (None: every one seen, sorted).

    Returns
    -------
    RealDataset
        ``frame``: ``unique_id`` (the RecordID as str), ``ds`` (float hours since
        admission), one column per parameter, repeated (record, time, parameter) values
        averaged. ``static``: ``Age``, ``Gender``, ``Height``, ``ICUType``, ``Weight``
        (the descriptor value, ``-1`` → NaN). Records without any time-varying
        measurement are left out (logged at DEBUG level).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a folder or holds no ``.txt`` file.
    LongFrameError
        If a file lacks the ``Time,Parameter,Value`` header or has a malformed time,
        naming the file and the value.
    """
    folder = Path(path)
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"Expected a folder of PhysioNet 2012 '.txt' records at {str(folder)!r}; found none."
        )
    rows, statics = [], []
    for file in files:
        record, desc = _read_record(file)
        statics.append(desc)
        if len(record):
            rows.append(record)
        else:
            logger.debug("load_physionet2012: %s has no time-varying measurement", file.name)
    if not rows:
        raise LongFrameError(f"No record in {str(folder)!r} has a time-varying measurement.")
    long = pd.concat(rows, ignore_index=True)
    wide = long.pivot_table(
        index=["unique_id", "ds"], columns="Parameter", values="Value", aggfunc="mean"
    )
    names = sorted(wide.columns) if features is None else list(features)
    wide = wide.reindex(columns=names).reset_index()
    frame = wide[["unique_id", "ds", *names]]
    frame.columns = ["unique_id", "ds", *names]
    static = pd.DataFrame(statics)
    description = (
        f"PhysioNet 2012 challenge ICU records read from {folder.name!r}: {len(files)} files, "
        "vital signs and labs by hour since admission; static Age, Gender, Height, ICUType, "
        "Weight. Data: PhysioNet (ODC-By 1.0), not shipped."
    )
    return finish(frame, static, names, description)


def _read_record(file: Path) -> tuple[pd.DataFrame, dict[str, object]]:
    raw = pd.read_csv(file, dtype={"Time": str, "Parameter": str})
    if list(raw.columns) != ["Time", "Parameter", "Value"]:
        raise LongFrameError(
            f"Expected the header 'Time,Parameter,Value' in {file.name!r}. "
            f"Got {','.join(map(str, raw.columns))!r} instead."
        )
    hours = _hours(raw["Time"], file.name)
    values = pd.to_numeric(raw["Value"], errors="coerce").to_numpy(np.float64)
    # Descriptors: the leading run of 00:00 lines naming a descriptor (each taken once).
    desc: dict[str, float] = {}
    is_desc = np.zeros(len(raw), dtype=bool)
    for i, (h, name) in enumerate(zip(hours, raw["Parameter"])):
        if h != 0.0 or name not in ("RecordID", *PHYSIONET_STATIC) or name in desc:
            break
        desc[name] = values[i]
        is_desc[i] = True
    sid = desc.get("RecordID", file.stem)
    sid = str(int(sid)) if isinstance(sid, float) and np.isfinite(sid) else str(file.stem)
    static: dict[str, object] = {"unique_id": sid}
    for name in PHYSIONET_STATIC:
        v = float(desc.get(name, np.nan))
        static[name] = np.nan if v == -1.0 else v
    keep = ~is_desc & np.isfinite(values)
    record = pd.DataFrame(
        {
            "unique_id": sid,
            "ds": hours[keep],
            "Parameter": raw["Parameter"].to_numpy()[keep],
            "Value": values[keep],
        }
    )
    return record, static


def _hours(times: pd.Series, name: str) -> np.ndarray:
    parts = times.str.split(":", expand=True)
    ok = (
        times.str.fullmatch(r"\d+:\d{2}").fillna(False).to_numpy(bool)
        if len(times)
        else np.ones(0, bool)
    )
    if not ok.all():
        bad = times[~ok].iloc[0]
        raise LongFrameError(
            f"Expected 'HH:MM' times in {name!r}; got {bad!r} in the 'Time' column."
        )
    return parts[0].astype(np.int64).to_numpy() + parts[1].astype(np.int64).to_numpy() / 60.0
