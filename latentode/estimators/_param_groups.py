"""Parameter groups every estimator shares: declared, constrained and documented once.

An estimator's ``_parameter_constraints`` is the union of the groups it uses and its own
entries; its docstring names a group with a placeholder line (``{runtime_params}``) that
:func:`document` replaces by the group's numpydoc text.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from latentode.estimators._params import (
    BOOL,
    NONE,
    POS_FLOAT,
    POS_INT,
    STR,
    Interval,
    Options,
    RandomStateLike,
    TypeOf,
)
from latentode.nn.solve import ADAPTIVE_METHODS, FIXED_METHODS

__all__ = [
    "FRAME",
    "RUNTIME",
    "SOLVER",
    "TRAINING",
    "document",
    "store_params",
]

#: Where the estimator runs, how it is seeded, watched and checkpointed.
RUNTIME: dict[str, list[Any]] = {
    "device": [TypeOf((str,), "a str such as 'auto', 'cpu' or 'cuda'")],
    "n_threads": [Options(("auto",)), POS_INT, NONE],
    "random_state": [RandomStateLike()],
    "verbose": [BOOL],
    "checkpoint_dir": [TypeOf((str, None), "a str path or None")],
    "checkpoint_every": [POS_INT],
    "callbacks": [TypeOf((list, tuple, None), "a list of callbacks or None")],
}

#: The optimisation budget and early stopping.
TRAINING: dict[str, list[Any]] = {
    "lr": [POS_FLOAT],
    "batch_size": [POS_INT],
    "max_epochs": [POS_INT],
    "max_time": [POS_FLOAT, NONE],
    "early_stopping": [BOOL],
    "validation_fraction": [Interval(float, 0, 1, closed="neither")],
    "patience": [POS_INT],
}

#: The ODE solver of the estimator's main solve.
SOLVER: dict[str, list[Any]] = {
    "method": [Options(ADAPTIVE_METHODS + FIXED_METHODS)],
    "rtol": [POS_FLOAT],
    "atol": [POS_FLOAT],
    "adjoint": [BOOL],
    "max_num_steps": [POS_INT],
    "n_substeps": [POS_INT],
}

#: The columns of a long input frame.
FRAME: dict[str, list[Any]] = {
    "id_col": [STR],
    "time_col": [STR],
    "feature_cols": [TypeOf((list, tuple, None), "a list of str or None")],
    "time_unit": [Options(("s", "min", "h", "D", "W")), NONE],
}

#: Per-epoch learning-rate decay (forecaster and dynamics).
LR_DECAY: dict[str, list[Any]] = {"lr_decay": [Interval(float, 0, 1, closed="right")]}

#: Activation of an MLP vector field.
ACTIVATION: dict[str, list[Any]] = {
    "activation": [Options(("tanh", "softplus", "relu", "elu"))],
    "time_dependent": [BOOL],
}

_DOCS = {
    "runtime_params": """\
    device : str, default="auto"
        "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
    n_threads : "auto", int or None, default="auto"
        CPU threads torch may use (``torch.set_num_threads``, restored afterwards). An int
        applies to ``fit`` and inference; None leaves torch's setting (one thread per core)
        everywhere. "auto" fits with one thread and leaves inference at torch's setting.
        Evidence (``benchmarks/threads.py``, 2 cores, periodic protocol, defaults with the
        Euler decoder): a fit epoch took 0.99 s with one thread and 0.98 s with two on a
        quiet machine, but 0.98 s against 2.54 s beside one busy process; forecasting 2,000
        series took 1.55 s with one thread against 1.10 s with two when quiet, 5.83 s with
        two beside a busy process (the dopri5 default before: 2.04 / 2.00 s, 1.93 / 6.96 s
        and 3.88 / 2.20 / 8.47 s).
        These models are small, so threads do not speed up a fit and collapse under
        contention; large inference batches gain from threads on a quiet machine, so pass
        ``n_threads=1`` on a shared one.
    random_state : int, numpy RandomState, numpy Generator or None, default=None
        Seeds initialisation, batching, training noise and prediction samples. The fit
        draws from its own generators: the global torch random state is left as it was.
    verbose : bool, default=False
        Show the progress bar anywhere (by default it shows on a terminal only; it counts
        the seconds of ``max_time`` when set, else epochs) and log each epoch at INFO level.
    checkpoint_dir : str or None, default=None
        Write the full training state there after every ``checkpoint_every`` epochs;
        ``fit(X, resume=True)`` continues from it.
    checkpoint_every : int, default=1
    callbacks : list of Callback or None, default=None
        Extra fit-loop callbacks (see :mod:`latentode.training`); callbacks registered
        with :func:`latentode.training.add_global_callback` (e.g. by
        ``latentode.tracking.autolog()``) are added too. Each fit resets them
        (``on_fit_start``), so one instance can serve several fits.""",
    "frame_params": """\
    id_col, time_col : str, default="unique_id", "ds"
    feature_cols : sequence of str or None, default=None
        Feature columns; None takes every other column (except ``static_cols`` and
        ``covariate_cols``, where the estimator has them).
    time_unit : {"s", "min", "h", "D", "W"} or None, default=None
        Unit of derivatives and float horizons for datetime time columns (None: days).""",
    "fitted_common": """\
    n_epochs_, best_epoch_ : int
        Epochs run, and the epoch whose weights were kept.
    seed_ : int
        The seed the fit drew its named random streams from.
    device_ : torch.device""",
}


def document(parameters: str = "") -> Callable[[type], type]:
    """Class decorator: fill ``parameters`` (the estimator's own parameter section, kept
    beside its constraint table) and the shared sections into the class docstring's
    ``{parameters}``, ``{frame_params}``, ``{runtime_params}`` and ``{fitted_common}``
    placeholder lines."""
    texts = {"parameters": parameters.rstrip("\n"), **_DOCS}

    def decorate(cls: type) -> type:
        doc = cls.__doc__ or ""
        for key, text in texts.items():
            doc = doc.replace("    {" + key + "}", text)
        cls.__doc__ = doc
        return cls

    return decorate


def store_params(estimator: Any, values: dict[str, Any]) -> None:
    """Store each ``__init__`` argument unchanged as an attribute (scikit-learn contract).

    Call as ``store_params(self, locals())`` in ``__init__``.
    """
    for name in inspect.signature(type(estimator).__init__).parameters:
        if name != "self":
            setattr(estimator, name, values[name])
