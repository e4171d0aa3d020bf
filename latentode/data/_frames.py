"""Frame-library helpers: detect pandas / polars and convert between them."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import pandas as pd

from latentode.exceptions import LongFrameError, QueryError

__all__ = ["FrameLibrary", "frame_library", "from_pandas", "merge_columns", "to_pandas"]

FrameLibrary = Literal["pandas", "polars"]


def _is_polars_frame(df: object) -> bool:
    # Compare by module name so that polars is imported only when the caller already uses it.
    cls = type(df)
    return cls.__name__ == "DataFrame" and cls.__module__.split(".")[0] == "polars"


def frame_library(df: object) -> FrameLibrary:
    """Name the library of a data frame.

    Parameters
    ----------
    df : object
        The object to inspect.

    Returns
    -------
    {"pandas", "polars"}
        The frame's library.

    Raises
    ------
    LongFrameError
        If ``df`` is neither a ``pandas.DataFrame`` nor a ``polars.DataFrame`` (a polars
        ``LazyFrame`` must be collected first).
    """
    if isinstance(df, pd.DataFrame):
        return "pandas"
    if _is_polars_frame(df):
        return "polars"
    cls = type(df)
    hint = ""
    if cls.__name__ == "LazyFrame":
        hint = " Call .collect() on the LazyFrame first."
    elif isinstance(df, pd.Series):
        hint = " Call .to_frame() or pass the whole frame."
    else:
        hint = " Build one, e.g. pd.DataFrame({'unique_id': ..., 'ds': ..., 'y': ...})."
    raise LongFrameError(
        "Expected a pandas.DataFrame or polars.DataFrame in long format. "
        f"Got {cls.__module__}.{cls.__qualname__} instead.{hint}"
    )


def to_pandas(df: Any) -> pd.DataFrame:
    """Return a pandas copy of a pandas or polars frame; the input is never modified.

    Parameters
    ----------
    df : pandas.DataFrame or polars.DataFrame
        The frame to convert.

    Returns
    -------
    pandas.DataFrame
        A new frame (a deep copy for pandas input). polars datetimes become
        ``datetime64`` columns with the same unit and time zone.
    """
    if frame_library(df) == "pandas":
        return df.copy(deep=True)
    return df.to_pandas()


def from_pandas(pdf: pd.DataFrame, library: FrameLibrary) -> Any:
    """Convert a pandas frame to the requested library.

    Parameters
    ----------
    pdf : pandas.DataFrame
        The frame to convert; its index is dropped.
    library : {"pandas", "polars"}
        The library of the returned frame.

    Returns
    -------
    pandas.DataFrame or polars.DataFrame
        ``pdf`` itself for ``"pandas"`` (with a fresh ``RangeIndex``), a new polars frame
        otherwise.

    Raises
    ------
    LongFrameError
        If ``pdf`` is not a pandas frame or ``library`` is not ``"pandas"`` / ``"polars"``.
    """
    if not isinstance(pdf, pd.DataFrame):
        raise LongFrameError(f"Expected a pandas.DataFrame. Got {type(pdf).__qualname__} instead.")
    if library == "pandas":
        return pdf.reset_index(drop=True)
    if library == "polars":
        return _pandas_to_polars(pdf.reset_index(drop=True))
    raise LongFrameError(
        f"The frame library must be 'pandas' or 'polars'. Got {library!r} instead."
    )


def _pandas_to_polars(pdf: pd.DataFrame) -> Any:
    import polars as pl

    # pandas >= 3.1 deprecates the ndarray view polars / pyarrow take of tz-aware columns:
    # convert those columns as naive UTC and restore the time zone on the polars side.
    aware = {
        col: str(pdf[col].dt.tz)
        for col in pdf.columns
        if isinstance(pdf[col].dtype, pd.DatetimeTZDtype)
    }
    if aware:
        pdf = pdf.copy(deep=False)
        for col in aware:
            pdf[col] = pdf[col].dt.tz_convert(None)
    out = pl.from_pandas(pdf)
    for col, tz in aware.items():
        utc = pl.col(col).dt.replace_time_zone("UTC")
        try:
            out = out.with_columns(utc.dt.convert_time_zone(tz))
        except pl.exceptions.PolarsError:
            warnings.warn(
                f"polars does not support the time zone {tz!r} of column {col!r}; "
                "the column is returned in UTC.",
                UserWarning,
                stacklevel=3,
            )
            out = out.with_columns(utc)
    return out


def merge_columns(*parts: dict[str, Any]) -> dict[str, Any]:
    """The union of output column groups; a name two groups share is a :class:`QueryError`
    (features ``y`` and ``y_lower`` would both claim the column ``y_lower``)."""
    out: dict[str, Any] = {}
    for part in parts:
        for name, value in part.items():
            if name in out:
                raise QueryError(
                    f"The output column {name!r} would hold two different things (a feature "
                    "and another feature's quantile or interval bound). Rename the feature "
                    "columns so that none is another's name plus '_lower', '_upper' or '_q…'."
                )
            out[name] = value
    return out
