"""``latentode.load``: any saved estimator, back from its model directory.

A model directory is data from outside the process, so loading checks it before it builds
anything: the config is a JSON object of known keys (:func:`~latentode._persist.read_model_dir`
bounds its size and nesting), the parameters pass the estimator's constraints, the
parameters that shape the module (``_architecture``) are at most ``MAX_ARCHITECTURE``, the
module rebuilt on the ``meta`` device (no memory) matches the state dict key for key and
shape for shape (a tampered ``field_hidden_dim=10**7`` would otherwise try to allocate
terabytes), and every tensor is finite. Whatever is wrong surfaces as
:class:`~latentode.exceptions.ModelFileError` naming the directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from latentode._persist import read_model_dir
from latentode.estimators._base import _restore_params
from latentode.estimators._params import validate_params
from latentode.estimators._registry import ESTIMATORS
from latentode.exceptions import LatentODEError, ModelFileError

__all__ = ["load"]

#: Largest value a parameter that shapes the module (``_architecture``) may have in a file.
MAX_ARCHITECTURE = 10_000


def load(path: str | os.PathLike, *, device: str | None = None) -> Any:
    """Load an estimator saved with ``estimator.save(path)``.

    Parameters
    ----------
    path : str or path-like
        The model directory.
    device : str, optional
        Where to put the module (default: the estimator's ``device`` parameter, falling
        back to CPU when that device is unavailable).

    Raises
    ------
    ModelFileError
        If the directory is missing, incomplete, of another format, or its config or weights
        are malformed or do not fit each other.
    """
    config, state = read_model_dir(path)
    name = config.get("class")
    if name == "SeriesAnomalyDetector":  # a composite: its models are sub-directories
        from latentode.estimators.anomaly import SeriesAnomalyDetector

        if state:
            raise ModelFileError(f"'{path}': a SeriesAnomalyDetector keeps no weights of its own.")
        return SeriesAnomalyDetector._from_saved(path, config, device)
    if not isinstance(name, str) or name not in ESTIMATORS:
        raise ModelFileError(
            f"'{path}' holds a {name!r}, which this version of latentode does not know "
            f"(known: {sorted([*ESTIMATORS, 'SeriesAnomalyDetector'])})."
        )
    cls = ESTIMATORS[name]
    check_saved(cls, config, state, path)
    try:
        est = cls(**_restore_params(cls, config["params"]))
        est._restore_fitted(config["fitted"])
        check_shapes(est, state, path)
        est._load_module(state, device)
    except ModelFileError:
        raise
    except (LatentODEError, TypeError, ValueError, KeyError, AttributeError, RuntimeError) as exc:
        raise ModelFileError(f"'{path}' does not hold a loadable {name}: {exc}") from exc
    return est


def check_saved(cls: Any, config: Mapping[str, Any], state: Any, path: Any) -> None:
    """Refuse a config or state dict that cannot be this estimator's, before building it."""
    params, fitted = config.get("params"), config.get("fitted")
    if not isinstance(params, dict) or not isinstance(fitted, dict):
        raise ModelFileError(f"'{path}': 'params' and 'fitted' must be JSON objects.")
    known = set(cls().get_params(deep=False))
    unknown = sorted(set(params) - known)
    if unknown:
        raise ModelFileError(f"'{path}': unknown parameters {unknown} for {cls.__name__}.")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ModelFileError(f"'{path}': the weights are not a state dict of named tensors.")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise ModelFileError(f"'{path}': non-finite weights in {bad[:5]}.")
    for name in getattr(cls, "_architecture", ()):
        values = params.get(name)
        values = values if isinstance(values, (list, tuple)) else [values]
        for v in values:
            if isinstance(v, int) and not isinstance(v, bool) and v > MAX_ARCHITECTURE:
                raise ModelFileError(
                    f"'{path}': parameter {name}={v} is beyond the {MAX_ARCHITECTURE} a saved "
                    "model may have; the config was not written by latentode."
                )
    try:
        est = cls(**_restore_params(cls, params))
        validate_params(est, cls._parameter_constraints)
    except (LatentODEError, TypeError, ValueError) as exc:
        raise ModelFileError(f"'{path}': invalid parameters: {exc}") from exc


def check_shapes(est: Any, state: dict[str, torch.Tensor], path: Any) -> None:
    """Build the module on the ``meta`` device (no memory) and compare it with ``state``
    key for key and shape for shape, so a config that does not fit its weights fails
    before anything is allocated."""
    with torch.device("meta"):
        module = est._build_module()
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in est._completed_state(state, module).items()}
    if expected != found:
        diff = sorted(k for k in set(expected) | set(found) if expected.get(k) != found.get(k))
        raise ModelFileError(
            f"'{path}': the weights do not fit the saved configuration ({len(diff)} "
            f"tensor(s) differ, e.g. {diff[:3]})."
        )
