"""Validation of a long frame and its conversion to sorted numpy arrays."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from latentode.data._frames import FrameLibrary, frame_library
from latentode.data._spec import LongFrameSpec
from latentode.data._ticks import _ticks, time_kind
from latentode.data._time import TimeEncoder
from latentode.exceptions import LongFrameError

__all__ = ["LongArrays", "read_long_frame", "read_query_frame"]

_MAX_NAMED = 5


@dataclass(frozen=True, eq=False)
class LongArrays:
    """A validated long frame, sorted by (series, time), all-NaN rows dropped.

    Attributes
    ----------
    ids : list
        Series ids in order of first appearance in the frame.
    codes : numpy.ndarray of shape (n_rows,), int64
        Position in ``ids`` of each row's series (non-decreasing).
    ds : pandas.Series of shape (n_rows,)
        Times in their original dtype.
    values : numpy.ndarray of shape (n_rows, n_features), float64
        Raw feature values, NaN where unobserved.
    feature_cols : tuple of str
    library : {"pandas", "polars"}
    """

    ids: list[Hashable]
    codes: np.ndarray
    ds: pd.Series
    values: np.ndarray
    feature_cols: tuple[str, ...]
    library: FrameLibrary

    @property
    def counts(self) -> np.ndarray:
        """Number of rows of each series, shape (n_series,)."""
        return np.bincount(self.codes, minlength=len(self.ids))


def _name_some(values: Sequence[Any]) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:_MAX_NAMED])
    more = len(values) - _MAX_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def _unique_in_order(values: pd.Series | np.ndarray) -> list[Any]:
    return pd.unique(pd.Series(values)).tolist()


def _check_columns(
    columns: list[Any], spec: LongFrameSpec, feature_cols: tuple[str, ...] | None, what: str
) -> tuple[str, ...]:
    available = f"available columns: {columns!r}"
    for role, col in (("id", spec.id_col), ("time", spec.time_col)):
        if col not in columns:
            raise LongFrameError(
                f"The {role} column {col!r} is missing from {what}; {available}. "
                f"Rename it or set LongFrameSpec({role}_col=...)."
            )
    if feature_cols is not None:
        missing = [c for c in feature_cols if c not in columns]
        if missing:
            raise LongFrameError(
                f"Feature column(s) {missing!r} seen in fit are missing from {what}; "
                f"{available}. Pass a frame with the same feature columns as in fit."
            )
        resolved = feature_cols
    elif spec.feature_cols is not None:
        missing = [c for c in spec.feature_cols if c not in columns]
        if missing:
            raise LongFrameError(
                f"Feature column(s) {missing!r} are missing from {what}; {available}. "
                "Fix LongFrameSpec(feature_cols=...)."
            )
        resolved = spec.feature_cols
    else:
        resolved = tuple(c for c in columns if c not in (spec.id_col, spec.time_col))
        if not resolved:
            raise LongFrameError(
                f"Expected at least one feature column besides {spec.id_col!r} and "
                f"{spec.time_col!r} in {what}; got none ({available})."
            )
        bad = [c for c in resolved if not isinstance(c, str)]
        if bad:
            raise LongFrameError(
                f"Feature column names must be strings; got {bad!r}. "
                "Rename them, e.g. df.columns = df.columns.astype(str)."
            )
    needed = [spec.id_col, spec.time_col, *resolved]
    repeated = sorted({str(c) for c in needed if columns.count(c) > 1})
    if repeated:
        raise LongFrameError(
            f"Column name(s) {repeated!r} appear more than once in {what}; "
            "column names must be unique."
        )
    return tuple(resolved)


def _select_pandas(df: Any, library: FrameLibrary, cols: list[str]) -> pd.DataFrame:
    # Only the needed columns are copied; the caller's frame is never modified.
    if library == "polars":
        return df.select(cols).to_pandas()
    return df.loc[:, cols]


def _check_ids(ids: pd.Series, spec: LongFrameSpec, what: str) -> None:
    n_null = int(ids.isna().sum())
    if n_null:
        raise LongFrameError(
            f"The id column {spec.id_col!r} of {what} has {n_null} null value(s); "
            "every row needs a series id. Drop or fill those rows."
        )


def _check_time(ds: pd.Series, ids: pd.Series, spec: LongFrameSpec, what: str) -> None:
    null = ds.isna().to_numpy()
    if null.any():
        series = _unique_in_order(ids[null])
        raise LongFrameError(
            f"The time column {spec.time_col!r} of {what} has {int(null.sum())} null "
            f"value(s) in {len(series)} series ({_name_some(series)}). "
            "Drop or fill those rows."
        )
    if time_kind(ds) == "numeric":
        inf = ~np.isfinite(ds.to_numpy(dtype=np.float64))
        if inf.any():
            series = _unique_in_order(ids[inf])
            raise LongFrameError(
                f"The time column {spec.time_col!r} of {what} has {int(inf.sum())} "
                f"infinite value(s) in {len(series)} series ({_name_some(series)}). "
                "Drop those rows."
            )


def _check_time_dtype(
    ds: pd.Series, spec: LongFrameSpec, time_encoder: TimeEncoder | None, what: str
) -> None:
    kind = time_kind(ds)
    if kind is None:
        raise LongFrameError(
            f"The time column {spec.time_col!r} of {what} must be numeric or datetime64; "
            f"got dtype {ds.dtype}. Convert it, e.g. df[{spec.time_col!r}] = "
            f"pd.to_datetime(df[{spec.time_col!r}])."
        )
    if time_encoder is not None and kind != time_encoder.kind:
        raise LongFrameError(
            f"The time column {spec.time_col!r} of {what} must be {time_encoder.kind} like "
            f"the one seen in fit; got {kind} dtype {ds.dtype}. "
            "Pass times of the same type as during fit."
        )
    if time_encoder is not None:
        try:
            time_encoder.check_compatible(ds)
        except LongFrameError as err:
            raise LongFrameError(f"Time column {spec.time_col!r} of {what}: {err}") from None


def _feature_values(sub: pd.DataFrame, cols: tuple[str, ...], feature_hint: str) -> np.ndarray:
    values = np.empty((len(sub), len(cols)), dtype=np.float64)
    for j, col in enumerate(cols):
        column = sub[col]
        dtype = column.dtype
        if not pd.api.types.is_numeric_dtype(dtype):
            raise LongFrameError(
                f"Feature column {col!r} must be numeric; got dtype {dtype}. "
                f"Convert it with pd.to_numeric{feature_hint}."
            )
        values[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def _check_finite(values: np.ndarray, ids: pd.Series, cols: tuple[str, ...]) -> None:
    inf = np.isinf(values)
    if not inf.any():
        return
    j = int(np.flatnonzero(inf.any(axis=0))[0])
    rows = inf[:, j]
    series = _unique_in_order(ids[rows])
    raise LongFrameError(
        f"Feature column {cols[j]!r} has {int(rows.sum())} infinite value(s) in "
        f"{len(series)} series ({_name_some(series)}). Replace them with NaN to mark them "
        "as unobserved, or drop those rows."
    )


def _sort_key(ds: pd.Series) -> np.ndarray:
    if time_kind(ds) == "numeric":
        return ds.to_numpy(dtype=np.float64)
    unit = getattr(ds.dtype, "unit", None) or np.datetime_data(ds.dtype)[0]
    return _ticks(ds, unit if unit in ("s", "ms", "us", "ns") else "ns")[0]


def _check_duplicates(
    codes: np.ndarray, key: np.ndarray, ds: pd.Series, ids: list[Hashable], spec: LongFrameSpec
) -> None:
    same = (codes[1:] == codes[:-1]) & (key[1:] == key[:-1])
    if not same.any():
        return
    first = int(np.flatnonzero(same)[0])
    run = first + 1
    while run + 1 < len(codes) and same[run]:
        run += 1
    n_rows = run - first + 1
    n_series = len(np.unique(codes[1:][same]))
    raise LongFrameError(
        f"Series {ids[codes[first]]!r} has {n_rows} rows at timestamp {ds.iloc[first]}; "
        f"timestamps must be unique within a series ({int(same.sum())} duplicated row(s) "
        f"in {n_series} series in total). Aggregate them first, e.g. "
        f"df.groupby([{spec.id_col!r}, {spec.time_col!r}], as_index=False).mean()."
    )


def read_long_frame(
    df: Any,
    spec: LongFrameSpec,
    *,
    feature_cols: tuple[str, ...] | None = None,
    time_encoder: TimeEncoder | None = None,
    what: str = "the frame",
) -> LongArrays:
    """Validate a long frame and return it as sorted arrays.

    Parameters
    ----------
    df : pandas.DataFrame or polars.DataFrame
        The long frame; never modified.
    spec : LongFrameSpec
        Column names.
    feature_cols : tuple of str or None, default None
        Fitted feature columns (None resolves them from ``spec`` and ``df``).
    time_encoder : TimeEncoder or None, default None
        Fitted time encoder whose time kind the frame must match.
    what : str, default "the frame"
        How error messages name the frame.

    Returns
    -------
    LongArrays
        Rows sorted by (series in order of first appearance, time); rows whose features
        are all NaN are dropped.

    Raises
    ------
    LongFrameError
        On any malformed input (see :class:`LongFrameEncoder`).
    """
    library = frame_library(df)
    columns = list(df.columns)
    if df.shape[0] == 0:
        raise LongFrameError(
            f"Expected at least one row in {what}; got an empty frame (columns: {columns!r})."
        )
    cols = _check_columns(columns, spec, feature_cols, what)
    sub = _select_pandas(df, library, [spec.id_col, spec.time_col, *cols])
    ids_col = sub[spec.id_col].reset_index(drop=True)
    ds = sub[spec.time_col].reset_index(drop=True)
    _check_time_dtype(ds, spec, time_encoder, what)
    hint = (
        " or leave it out of LongFrameSpec(feature_cols=...)"
        if feature_cols is None and spec.feature_cols is None
        else ""
    )
    values = _feature_values(sub, cols, hint)
    _check_ids(ids_col, spec, what)
    _check_time(ds, ids_col, spec, what)
    _check_finite(values, ids_col, cols)

    codes, uniques = pd.factorize(ids_col)
    ids = list(uniques.tolist())
    key = _sort_key(ds)
    order = np.lexsort((key, codes))
    codes, key, values = codes[order], key[order], values[order]
    ds = ds.iloc[order].reset_index(drop=True)
    _check_duplicates(codes, key, ds, ids, spec)

    observed = ~np.isnan(values).all(axis=1)
    if not observed.all():
        seen = np.bincount(codes[observed], minlength=len(ids))
        empty = np.flatnonzero(seen == 0)
        if empty.size:
            names = [ids[i] for i in empty]
            raise LongFrameError(
                f"{len(names)} series have no observed value (every feature is NaN in all "
                f"their rows): {_name_some(names)}. Drop these series or provide "
                "observations for them."
            )
        codes, values = codes[observed], values[observed]
        ds = ds[observed].reset_index(drop=True)
    return LongArrays(
        ids=ids,
        codes=codes.astype(np.int64, copy=False),
        ds=ds,
        values=values,
        feature_cols=cols,
        library=library,
    )


def read_query_frame(
    at: Any, spec: LongFrameSpec, time_encoder: TimeEncoder
) -> tuple[pd.DataFrame, FrameLibrary]:
    """Validate a query frame (id and time columns) and return a pandas copy of it.

    Raises
    ------
    LongFrameError
        If ``at`` is not a frame, lacks the id / time column, or holds null ids / times or
        times of another kind than in fit.
    """
    library = frame_library(at)
    columns = list(at.columns)
    what = "the query frame 'at'"
    for role, col in (("id", spec.id_col), ("time", spec.time_col)):
        if col not in columns:
            raise LongFrameError(
                f"The {role} column {col!r} is missing from {what}; available columns: {columns!r}."
            )
    pdf = at.to_pandas() if library == "polars" else at.copy(deep=True)
    ids = pdf[spec.id_col].reset_index(drop=True)
    ds = pdf[spec.time_col].reset_index(drop=True)
    _check_time_dtype(ds, spec, time_encoder, what)
    _check_ids(ids, spec, what)
    _check_time(ds, ids, spec, what)
    return pdf, library
