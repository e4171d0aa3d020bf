"""``latentode.load``: any saved estimator, back from its model directory."""

from __future__ import annotations

import os
from typing import Any

from latentode._persist import read_model_dir
from latentode.estimators._registry import ESTIMATORS
from latentode.exceptions import ModelFileError

__all__ = ["load"]


def load(path: str | os.PathLike, *, device: str | None = None) -> Any:
    """Load an estimator saved with ``estimator.save(path)``.

    Parameters
    ----------
    path : str or path-like
        The model directory.
    device : str, optional
        Where to put the module (default: the estimator's ``device`` parameter, falling
        back to CPU when that device is unavailable).
    """
    config, state = read_model_dir(path)
    name = config.get("class")
    if name not in ESTIMATORS:
        raise ModelFileError(
            f"'{path}' holds a {name!r}, which this version of latentode does not know "
            f"(known: {sorted(ESTIMATORS)})."
        )
    return ESTIMATORS[name]._from_saved(config, state, device=device)
