"""Data layer: long frames (pandas / polars) ↔ per-series irregular arrays and tensors.

The flow is ``long frame → LongFrameEncoder.transform → IrregularDataset → collate →
IrregularBatch``; :meth:`LongFrameEncoder.query_times`, :meth:`~LongFrameEncoder.horizon_times`
and :meth:`~LongFrameEncoder.decode_frame` map predictions back to a long frame.
"""

from latentode.data._batch import IrregularBatch, collate
from latentode.data._covariates import CovariateEncoder, CovariatePath
from latentode.data._encoder import LongFrameEncoder
from latentode.data._frames import (
    FrameLibrary,
    frame_library,
    from_pandas,
    merge_columns,
    to_pandas,
)
from latentode.data._levels import Interval, check_levels, intervals
from latentode.data._queries import QUERY_IDX_COL, SERIES_IDX_COL
from latentode.data._scaling import FeatureScaler
from latentode.data._series import IrregularDataset, Series
from latentode.data._spec import LongFrameSpec
from latentode.data._static import StaticEncoder, drop_columns
from latentode.data._time import TIME_UNITS, TimeEncoder, even_times

__all__ = [
    "QUERY_IDX_COL",
    "SERIES_IDX_COL",
    "TIME_UNITS",
    "CovariateEncoder",
    "CovariatePath",
    "FeatureScaler",
    "FrameLibrary",
    "Interval",
    "IrregularBatch",
    "IrregularDataset",
    "LongFrameEncoder",
    "LongFrameSpec",
    "Series",
    "StaticEncoder",
    "TimeEncoder",
    "check_levels",
    "collate",
    "drop_columns",
    "even_times",
    "frame_library",
    "from_pandas",
    "intervals",
    "merge_columns",
    "to_pandas",
]
