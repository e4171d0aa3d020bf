"""Decoding: per-series times and output columns back into a long frame.

:func:`decode_long_frame` checks that every output column has one value per time of every
series, maps normalised times back to the time column's original dtype and builds the frame
in the requested library. It backs the public
:meth:`LongFrameEncoder.decode_frame <latentode.data.LongFrameEncoder.decode_frame>`, which
documents it in full.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from latentode.data._frames import FrameLibrary, from_pandas
from latentode.data._spec import LongFrameSpec
from latentode.data._time import TimeEncoder

__all__ = ["decode_long_frame"]


def decode_long_frame(
    ids: Sequence[Hashable],
    times: Sequence[np.ndarray],
    columns: Mapping[str, Sequence[np.ndarray]],
    spec: LongFrameSpec,
    time_encoder: TimeEncoder,
    library: FrameLibrary,
) -> Any:
    """A long frame with columns ``id_col, time_col, *columns`` of ``spec``.

    Parameters
    ----------
    ids : sequence
        Series ids, one per series.
    times : sequence of numpy.ndarray of shape (n_i,)
        Normalised times of each series.
    columns : mapping of str to sequence of numpy.ndarray of shape (n_i,)
        Output columns, per series, already in original units.
    spec : LongFrameSpec
    time_encoder : TimeEncoder
        The fitted time mapping (decodes the times).
    library : {"pandas", "polars"}
        Library of the result.

    Raises
    ------
    ValueError
        If lengths disagree or a column is named like the id / time column.
    """
    if len(times) != len(ids):
        raise ValueError(f"Expected one time array per id; got {len(times)} and {len(ids)}.")
    counts = np.array([np.asarray(t).reshape(-1).shape[0] for t in times], dtype=np.int64)
    data: dict[str, Any] = {}
    for name, per_series in columns.items():
        if name in (spec.id_col, spec.time_col):
            raise ValueError(
                f"Output column {name!r} clashes with the id or time column; rename it."
            )
        if len(per_series) != len(ids):
            raise ValueError(
                f"Column {name!r}: expected one array per series ({len(ids)}); "
                f"got {len(per_series)}."
            )
        arrays = [np.asarray(a).reshape(-1) for a in per_series]
        lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
        if not np.array_equal(lengths, counts):
            bad = int(np.flatnonzero(lengths != counts)[0])
            raise ValueError(
                f"Column {name!r}: series {ids[bad]!r} has {lengths[bad]} values for "
                f"{counts[bad]} times."
            )
        data[name] = np.concatenate(arrays) if arrays else np.empty(0)
    flat = (
        np.concatenate([np.asarray(t, dtype=np.float64).reshape(-1) for t in times])
        if len(times)
        else np.empty(0)
    )
    id_values = pd.Series(list(ids), dtype=None if len(ids) else object)
    out = pd.DataFrame(
        {
            spec.id_col: id_values.repeat(counts).reset_index(drop=True),
            spec.time_col: time_encoder.decode(flat),
        }
    )
    for name, values in data.items():
        out[name] = values
    return from_pandas(out, library)
