"""Reading and writing the CLI's files, and loading a model from a path or a registry URI."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["echo", "first_line", "load_model", "read_frame", "write_frame", "write_json"]


def echo(text: str = "") -> None:
    """A result line on stdout (logging goes to stderr)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_frame(path: str, id_col: str, time_col: str, parse_dates: bool) -> Any:
    """A long frame from a CSV or parquet file (a parquet *directory* is read whole)."""
    import pandas as pd

    from latentode.datasets import load_csv
    from latentode.exceptions import LongFrameError

    if not (path.endswith(".parquet") or Path(path).is_dir()):
        return load_csv(path, id_col=id_col, time_col=time_col, parse_dates=parse_dates)
    if not Path(path).exists():
        raise FileNotFoundError(f"No such file or directory: {path!r}")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise LongFrameError(
            f"{path!r} is not a readable parquet file ({first_line(exc)}); expected a "
            "long-format table written by pandas, polars or pyarrow."
        ) from None
    if parse_dates and time_col in frame.columns:
        frame[time_col] = pd.to_datetime(frame[time_col])
    return frame


def write_frame(frame: Any, path: str) -> None:
    """Write a frame as parquet (``.parquet``) or CSV, atomically: never a partial file."""
    from latentode._persist import atomic_file
    from latentode.data import to_pandas

    out = to_pandas(frame)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(Path(path)) as tmp:
        if path.endswith(".parquet"):
            out.to_parquet(tmp, index=False)
        else:
            out.to_csv(tmp, index=False)


def write_json(obj: Any, path: str) -> None:
    import json

    from latentode._persist import atomic_file

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(Path(path)) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2) + "\n")


def load_model(ref: str, tracking_uri: str | None = None) -> Any:
    """A saved estimator from a directory, or from an MLflow URI (``models:/name@alias``,
    ``models:/name/3``, ``runs:/<run>/model``) through :func:`latentode.tracking.load_estimator`."""
    from latentode import load

    if ref.startswith(("models:/", "runs:/")):
        from latentode.cli._registry import use_tracking_uri
        from latentode.tracking import load_estimator

        use_tracking_uri(tracking_uri)
        return load_estimator(ref)
    return load(ref)
