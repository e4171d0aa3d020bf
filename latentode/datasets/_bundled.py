"""Data sets shipped inside the package, and a loader for users' CSV files."""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass

import pandas as pd

from latentode.exceptions import LongFrameError, ParameterError

__all__ = ["list_bundled", "load_bundled", "load_csv"]


@dataclass(frozen=True)
class _Bundled:
    filename: str
    datetime_cols: tuple[str, ...]
    description: str


_BUNDLED: dict[str, _Bundled] = {
    "periodic_irregular": _Bundled(
        filename="periodic_irregular.csv.gz",
        datetime_cols=(),
        description=(
            "300 series of the periodic toy (make_periodic) with a separate irregular grid "
            "per series and 50 % of the points kept: unique_id, ds (float), y."
        ),
    ),
    "sensors_irregular": _Bundled(
        filename="sensors_irregular.csv.gz",
        datetime_cols=("ds",),
        description=(
            "200 series of two-channel damped oscillations with bursty, uneven gaps over "
            "days and 20 % of the individual values missing: unique_id, ds (datetime64), "
            "sensor_a, sensor_b."
        ),
    ),
}


def list_bundled() -> list[str]:
    """Names of the data sets shipped with latentode (see ``datasets/README.md``).

    Returns
    -------
    list of str
        Names accepted by :func:`load_bundled`.
    """
    return sorted(_BUNDLED)


def load_bundled(name: str = "periodic_irregular") -> pd.DataFrame:
    """Load a data set shipped inside the package as a long pandas frame.

    Parameters
    ----------
    name : str, default "periodic_irregular"
        One of :func:`list_bundled`:

        * ``"periodic_irregular"``: 300 series of the periodic toy, each on its own
          irregular grid with 50 % of the points kept; columns ``unique_id, ds, y``.
        * ``"sensors_irregular"``: 200 series of two-channel damped oscillations observed
          at uneven datetimes over days, with 20 % of the feature values missing (NaN);
          columns ``unique_id, ds (datetime64), sensor_a, sensor_b``.

    Returns
    -------
    pandas.DataFrame
        A new frame on each call; ``unique_id`` is a string column.

    Raises
    ------
    ParameterError
        If ``name`` is not a bundled data set.
    """
    entry = _BUNDLED.get(name) if isinstance(name, str) else None
    if entry is None:
        raise ParameterError(
            f"The 'name' parameter of load_bundled must be one of {list_bundled()}. "
            f"Got {name!r} instead."
        )
    resource = importlib.resources.files("latentode.datasets") / "data" / entry.filename
    with importlib.resources.as_file(resource) as path:
        df = pd.read_csv(path, dtype={"unique_id": "str"})
    for col in entry.datetime_cols:
        df[col] = pd.to_datetime(df[col], format="ISO8601")
    return df


def load_csv(
    path: str | os.PathLike[str],
    *,
    id_col: str = "unique_id",
    time_col: str = "ds",
    parse_dates: bool = False,
) -> pd.DataFrame:
    """Read a long-format CSV file (optionally compressed, e.g. ``.csv.gz``).

    Parameters
    ----------
    path : str or path-like
        The file.
    id_col : str, default "unique_id"
        Name of the series-id column, read as strings (so ``"007"`` keeps its zeros).
    time_col : str, default "ds"
        Name of the time column.
    parse_dates : bool, default False
        Parse ``time_col`` as datetimes (ISO 8601 or any format pandas infers);
        otherwise it is read as numbers.

    Returns
    -------
    pandas.DataFrame
        The long frame, rows in file order; feature columns as pandas infers them.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    LongFrameError
        If the file is empty, not text, has no data rows, lacks the id or time column, or
        its time column cannot be parsed.
    """
    try:
        df = pd.read_csv(path, dtype={id_col: "str"})
    except pd.errors.EmptyDataError:
        raise LongFrameError(
            f"{os.fspath(path)!r} is empty: expected a CSV file with a header row (id, time "
            "and feature columns) and at least one data row."
        ) from None
    except (UnicodeDecodeError, pd.errors.ParserError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LongFrameError(
            f"{os.fspath(path)!r} is not a readable CSV file ({reason}); expected UTF-8 text "
            "with comma-separated columns."
        ) from None
    for role, col in (("id", id_col), ("time", time_col)):
        if col not in df.columns:
            raise LongFrameError(
                f"The {role} column {col!r} is missing from {os.fspath(path)!r}; available "
                f"columns: {list(df.columns)!r}. Pass {role}_col=... to load_csv."
            )
    if df.empty:
        raise LongFrameError(
            f"{os.fspath(path)!r} has a header but no data rows (columns "
            f"{list(df.columns)!r}); expected at least one observation."
        )
    if parse_dates:
        try:
            df[time_col] = pd.to_datetime(df[time_col], format="ISO8601")
        except (ValueError, TypeError):
            try:
                df[time_col] = pd.to_datetime(df[time_col], format="mixed")
            except (ValueError, TypeError) as err:
                raise LongFrameError(
                    f"The time column {time_col!r} of {os.fspath(path)!r} could not be parsed "
                    f"as datetimes: {err}. Fix the file or load it with parse_dates=False."
                ) from None
    elif not pd.api.types.is_numeric_dtype(df[time_col]):
        raise LongFrameError(
            f"The time column {time_col!r} of {os.fspath(path)!r} is not numeric (dtype "
            f"{df[time_col].dtype}); pass parse_dates=True to read it as datetimes."
        )
    return df
