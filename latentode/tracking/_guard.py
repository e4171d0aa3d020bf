"""Tracking must never kill a fit: :class:`TrackingWarning` and :class:`TrackingGuard`."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from latentode.exceptions import TrackingWarning

__all__ = ["TrackingGuard", "TrackingWarning"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TrackingGuard:
    """Run tracking calls so that a failure warns once and switches tracking off.

    The first exception raised by a guarded call is turned into a :class:`TrackingWarning`
    naming the step and the cause; later calls are skipped (a store that failed once would
    otherwise slow every epoch down with retries and repeat the same warning).

    Parameters
    ----------
    owner : str
        Who tracks (shown in the warning), e.g. ``"MLflowCallback"``.
    consequence : str, optional
        What happens next, for the warning (default: tracking is off for the rest of the
        fit, with advice on the store).
    """

    def __init__(self, owner: str, consequence: str | None = None) -> None:
        self.owner = owner
        self.consequence = consequence or (
            "The fit goes on without tracking. Check that the tracking store "
            "(MLFLOW_TRACKING_URI) is reachable and writable, and that its disk has space."
        )
        self.failed = False

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Return ``fn(*args, **kwargs)``, or None once tracking has failed.

        Parameters
        ----------
        what : str
            The step, for the warning (e.g. ``"logging epoch metrics"``).
        fn : callable
            The tracking call.
        """
        if self.failed:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # tracking must never end a fit: any failure becomes a warning
            self.failed = True
            logger.debug("%s: tracking failed while %s", self.owner, what, exc_info=True)
            warnings.warn(
                f"{self.owner}: MLflow tracking failed while {what} "
                f"({type(exc).__name__}: {_first_line(exc)}). {self.consequence}",
                TrackingWarning,
                stacklevel=3,
            )
            return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return line[:300]
