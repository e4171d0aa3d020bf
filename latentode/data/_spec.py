"""Column layout of a long frame: :class:`LongFrameSpec`."""

from __future__ import annotations

from dataclasses import dataclass

from latentode.exceptions import LongFrameError

__all__ = ["LongFrameSpec"]


@dataclass(frozen=True)
class LongFrameSpec:
    """Names of the columns of a long (tidy) time-series frame.

    A long frame holds one row per (series, timestamp) pair: an id column, a time column and
    one column per observed feature. ``NaN`` in a feature column means "not observed".

    Parameters
    ----------
    id_col : str, default "unique_id"
        Column identifying the series a row belongs to.
    time_col : str, default "ds"
        Column holding the timestamp (numeric or datetime64, tz-naive or tz-aware).
    feature_cols : tuple of str or None, default None
        Feature columns. ``None`` means every column except ``id_col`` and ``time_col``;
        those must then all be numeric.

    Raises
    ------
    LongFrameError
        If a column name is not a non-empty string, a name is repeated, or ``id_col`` or
        ``time_col`` is listed among the features.
    """

    id_col: str = "unique_id"
    time_col: str = "ds"
    feature_cols: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for field_name in ("id_col", "time_col"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not value:
                raise LongFrameError(
                    f"The '{field_name}' of LongFrameSpec must be a non-empty str. "
                    f"Got {value!r} instead."
                )
        if self.id_col == self.time_col:
            raise LongFrameError(
                "The 'id_col' and 'time_col' of LongFrameSpec must differ. "
                f"Got {self.id_col!r} for both; pass two distinct column names."
            )
        if self.feature_cols is None:
            return
        if isinstance(self.feature_cols, str):
            raise LongFrameError(
                "The 'feature_cols' of LongFrameSpec must be a tuple of column names or None. "
                f"Got the string {self.feature_cols!r}; write ({self.feature_cols!r},) instead."
            )
        cols = tuple(self.feature_cols)
        object.__setattr__(self, "feature_cols", cols)
        if not cols:
            raise LongFrameError(
                "The 'feature_cols' of LongFrameSpec must name at least one column or be None. "
                "Got an empty tuple."
            )
        bad = [c for c in cols if not isinstance(c, str) or not c]
        if bad:
            raise LongFrameError(
                f"The 'feature_cols' of LongFrameSpec must be non-empty strings. Got {bad!r}."
            )
        repeated = sorted({c for c in cols if cols.count(c) > 1})
        if repeated:
            raise LongFrameError(
                f"The 'feature_cols' of LongFrameSpec must be distinct. Got {repeated!r} twice."
            )
        clash = [c for c in cols if c in (self.id_col, self.time_col)]
        if clash:
            raise LongFrameError(
                "The 'feature_cols' of LongFrameSpec must not include the id or time column. "
                f"Got {clash!r}; remove them from feature_cols."
            )

    def to_dict(self) -> dict[str, object]:
        """Return the spec as a JSON-compatible dict."""
        return {
            "id_col": self.id_col,
            "time_col": self.time_col,
            "feature_cols": None if self.feature_cols is None else list(self.feature_cols),
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> LongFrameSpec:
        """Rebuild a spec written by :meth:`to_dict`."""
        feature_cols = d.get("feature_cols")
        return cls(
            id_col=str(d["id_col"]),
            time_col=str(d["time_col"]),
            feature_cols=None if feature_cols is None else tuple(feature_cols),  # type: ignore[arg-type]
        )
