"""The request format of logged models: one long frame of history and query rows.

A forecasting request is a single long frame (what a model signature, a REST payload and a
Spark group can all carry)::

    unique_id  ds    y     role
    "a"        0.0   1.2   "history"     observed rows: condition the forecast
    "a"        0.7   NaN   "history"     (NaN = not observed)
    "a"        2.0   NaN   "query"       rows to predict at (feature values are ignored)

The ``role`` column is optional: without it every row is history, and the ``horizon``
parameter asks for ``n_points`` times after each series' last observation. Nothing here
imports MLflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from latentode.data import intervals, to_pandas
from latentode.exceptions import LongFrameError, ParameterError, QueryError

__all__ = [
    "DEFAULT_QUANTILES",
    "HISTORY",
    "LIMITS",
    "QUERY",
    "ROLE_COL",
    "ForecastParams",
    "check_request",
    "make_payload",
    "quantile_columns",
    "split_payload",
]

ROLE_COL = "role"
HISTORY = "history"
QUERY = "query"
DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
#: Serving limits of one request (documented in the README); larger requests get HTTP 400.
LIMITS = {
    "num_samples": 1000,
    "n_points": 1000,
    "quantiles": 99,
    "rows": 1_000_000,
    "series": 100_000,
    "draws": 20_000_000,
}


def make_payload(
    history: Any,
    queries: Any = None,
    *,
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> pd.DataFrame:
    """Build a request frame for a logged forecasting model.

    Parameters
    ----------
    history : pandas.DataFrame or polars.DataFrame
        Long frame of observed rows (id, time, feature columns).
    queries : pandas.DataFrame or polars.DataFrame, optional
        Rows to predict at (id and time columns); None for a ``horizon`` request.
    id_col, time_col : str, default="unique_id", "ds"

    Returns
    -------
    pandas.DataFrame
        History rows then query rows, with a ``role`` column (``"history"`` / ``"query"``)
        and NaN features on query rows.

    Examples
    --------
    >>> payload = make_payload(history, queries)            # doctest: +SKIP
    >>> model.predict(payload, params={"quantiles": [0.05, 0.95]})  # doctest: +SKIP
    """
    hist = to_pandas(history).copy()
    if ROLE_COL in hist.columns:
        raise LongFrameError(
            f"The history frame already has a '{ROLE_COL}' column; expected plain observed "
            "rows. Drop that column (or pass the frame directly as the request)."
        )
    hist[ROLE_COL] = HISTORY
    if queries is None:
        return hist.reset_index(drop=True)
    q = to_pandas(queries)
    missing = [c for c in (id_col, time_col) if c not in q.columns]
    if missing:
        raise LongFrameError(
            f"Expected the query frame to have columns {[id_col, time_col]}; {missing} "
            "missing. Pass id_col / time_col if your columns are named differently."
        )
    q = q[[id_col, time_col]].copy()
    q[ROLE_COL] = QUERY
    out = pd.concat([hist, q], ignore_index=True)
    return out[[*hist.columns]]


def split_payload(
    frame: pd.DataFrame, *, id_col: str, time_col: str
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Split a request frame into its history rows and its query rows (None if none).

    Raises
    ------
    LongFrameError
        If the ``role`` column holds a value other than ``"history"`` / ``"query"``, or
        there is no history row.
    """
    if ROLE_COL not in frame.columns:
        return frame, None
    role = frame[ROLE_COL]
    bad = ~role.isin([HISTORY, QUERY])
    if bad.any():
        values = pd.unique(role[bad].astype(str)).tolist()[:5]
        raise LongFrameError(
            f"The '{ROLE_COL}' column must hold '{HISTORY}' or '{QUERY}'; got {values!r} in "
            f"{int(bad.sum())} row(s). Mark observed rows '{HISTORY}' and rows to predict "
            f"'{QUERY}'."
        )
    is_query = (role == QUERY).to_numpy()
    history = frame.loc[~is_query].drop(columns=ROLE_COL)
    if len(history) == 0:
        raise LongFrameError(
            f"The request has no '{HISTORY}' row; a forecast is conditioned on each series' "
            f"observed rows. Send them with {ROLE_COL}='{HISTORY}'."
        )
    if not is_query.any():
        return history, None
    queries = frame.loc[is_query, [id_col, time_col]].reset_index(drop=True)
    return history, queries


@dataclass(frozen=True)
class ForecastParams:
    """Inference parameters of a logged forecasting model (validated on construction).

    Parameters
    ----------
    num_samples : int
        Posterior samples (>= 1).
    quantiles : tuple of float
        Quantile levels in (0, 1) (empty: no quantile columns).
    coverage : float
        Central interval coverage in [0, 1); 0 means no interval columns.
    coverages : tuple of float
        Several central intervals at once, each level in (0, 1), named by level in percent
        (``y_lower_80``, ``y_upper_95``); instead of ``coverage``.
    horizon : float
        Forecast this far after each series' last observation (> 0), instead of query rows;
        0 means "use the query rows". For datetime times, in the model's ``time_unit``.
    n_points : int
        Evenly spaced times in ``(last, last + horizon]`` (>= 1).
    """

    num_samples: int
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    coverage: float = 0.0
    coverages: tuple[float, ...] = ()
    horizon: float = 0.0
    n_points: int = 10

    def __post_init__(self) -> None:
        _check_int("num_samples", self.num_samples, 1, LIMITS["num_samples"])
        _check_int("n_points", self.n_points, 1, LIMITS["n_points"])
        if len(self.quantiles) > LIMITS["quantiles"]:
            raise ParameterError(
                f"The 'quantiles' parameter holds {len(self.quantiles)} levels; a request may "
                f"ask for at most {LIMITS['quantiles']}."
            )
        for q in self.quantiles:
            if not 0.0 < q < 1.0:
                raise ParameterError(
                    "The 'quantiles' parameter must hold numbers in the range (0, 1). "
                    f"Got {list(self.quantiles)!r} instead."
                )
        if not 0.0 <= self.coverage < 1.0:
            raise ParameterError(
                "The 'coverage' parameter must be a float in the range [0, 1) (0: no "
                f"interval). Got {self.coverage!r} instead."
            )
        if self.coverages:
            if self.coverage > 0:
                raise ParameterError(
                    "The request passes both 'coverage' and 'coverages'; expected one: "
                    "'coverage' for one interval, 'coverages' for several."
                )
            if len(self.coverages) > LIMITS["quantiles"]:
                raise ParameterError(
                    f"The 'coverages' parameter holds {len(self.coverages)} levels; a request "
                    f"may ask for at most {LIMITS['quantiles']}."
                )
            try:
                intervals(list(self.coverages))
            except QueryError as exc:
                raise ParameterError(
                    "The 'coverages' parameter must hold distinct numbers in the range (0, 1). "
                    f"Got {list(self.coverages)!r} instead."
                ) from exc
        if not (np.isfinite(self.horizon) and self.horizon >= 0.0):
            raise ParameterError(
                "The 'horizon' parameter must be a finite float >= 0 (0: predict at the "
                f"query rows). Got {self.horizon!r} instead."
            )

    @property
    def interval_argument(self) -> float | list[float] | None:
        """The ``coverage`` argument of ``predict_distribution`` this request asks for."""
        if self.coverages:
            return list(self.coverages)
        return self.coverage if self.coverage > 0 else None

    @classmethod
    def from_request(
        cls,
        params: Mapping[str, Any] | None,
        *,
        num_samples: int,
        allowed: Sequence[str] | None = None,
    ) -> ForecastParams:
        """Read the ``params`` of a pyfunc call; absent keys take their defaults.

        Parameters
        ----------
        params : mapping or None
            What the caller passed.
        num_samples : int
            Default of ``num_samples`` (the estimator's ``n_samples``).
        allowed : sequence of str, optional
            The keys this model accepts (default: every field).

        Raises
        ------
        ParameterError
            On an unknown key or an invalid value.
        """
        params = {k: v for k, v in dict(params or {}).items() if v is not None}
        known = sorted(cls.__dataclass_fields__ if allowed is None else allowed)
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ParameterError(
                f"Unknown inference parameter(s) {unknown}; this model accepts {known}."
            )
        quantiles = params.get("quantiles", DEFAULT_QUANTILES)
        if quantiles is None:
            quantiles = ()
        if isinstance(quantiles, (int, float)):
            quantiles = (quantiles,)
        coverages = params.get("coverages", ())
        if isinstance(coverages, (int, float)):
            coverages = (coverages,)
        try:
            return cls(
                num_samples=_as_int(params.get("num_samples", num_samples), "num_samples"),
                quantiles=tuple(float(q) for q in np.asarray(quantiles, dtype=float).ravel()),
                coverage=float(params.get("coverage", 0.0)),
                coverages=tuple(float(c) for c in np.asarray(coverages, dtype=float).ravel()),
                horizon=float(params.get("horizon", 0.0)),
                n_points=_as_int(params.get("n_points", 10), "n_points"),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ParameterError):
                raise
            raise ParameterError(f"Invalid inference parameters {params!r}: {exc}.") from exc


def check_request(params: ForecastParams, queries: pd.DataFrame | None) -> None:
    """Exactly one way to say where to predict: query rows or a positive ``horizon``."""
    if params.horizon > 0 and queries is not None:
        raise QueryError(
            f"The request has {len(queries)} '{QUERY}' row(s) and a 'horizon' of "
            f"{params.horizon}; expected one of the two. Drop the query rows or the horizon."
        )
    if params.horizon == 0 and queries is None:
        raise QueryError(
            f"The request says nowhere to predict: add rows with {ROLE_COL}='{QUERY}' (the "
            "times to forecast) or pass a positive 'horizon' parameter."
        )


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"The '{name}' parameter must be an int. Got {value!r} instead.")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    raise ParameterError(f"The '{name}' parameter must be an int. Got {value!r} instead.")


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ParameterError(
            f"The '{name}' parameter must be an int in the range [{low}, {high}] (the "
            f"serving limit). Got {value!r} instead."
        )


def check_request_size(frame: pd.DataFrame, id_col: str, params: ForecastParams) -> None:
    """Refuse a request larger than :data:`LIMITS` (rows, series, query x sample draws)
    before any computation, so one request cannot hold a server for minutes."""
    if len(frame) > LIMITS["rows"]:
        raise ParameterError(
            f"The request has {len(frame)} rows; a request may have at most "
            f"{LIMITS['rows']}. Split it into several requests."
        )
    n_series = int(frame[id_col].nunique())
    if n_series > LIMITS["series"]:
        raise ParameterError(
            f"The request has {n_series} series; a request may have at most "
            f"{LIMITS['series']}. Split it into several requests."
        )
    if ROLE_COL in frame.columns:
        n_queries = int((frame[ROLE_COL] == QUERY).sum())
    else:
        n_queries = n_series * params.n_points
    draws = n_queries * params.num_samples
    if draws > LIMITS["draws"]:
        raise ParameterError(
            f"The request asks for {n_queries} query times x {params.num_samples} samples = "
            f"{draws} draws; a request may ask for at most {LIMITS['draws']}. Lower "
            "'num_samples' or split the request."
        )


def quantile_columns(features: Sequence[str], quantiles: Sequence[float]) -> list[str]:
    """Names of the quantile columns of ``predict_quantiles``: ``<feature>_q<level>``."""
    return [f"{f}_q{q:g}" for f in features for q in quantiles]
