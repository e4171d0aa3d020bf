"""What every latentode estimator shares: the fit skeleton, device, seeding, persistence.

``fit`` is written once, here::

    validate parameters → device and seed → (global torch RNG forked) →
    _prepare(X) → _build_module() → _make_trainer(prepared) → resume or
    _before_training(prepared) → trainer.fit() → _after_fit(prepared)

A subclass implements those hooks and declares its fitted state in ``_fitted``: attribute
name → :class:`Fitted` codec. Saving, loading and pickling are derived from that table, and a
fit that raises or is interrupted restores the estimator's previous fitted state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from latentode._persist import atomic_write_dir, write_model_dir
from latentode.estimators._params import validate_params
from latentode.estimators._seeds import isolated_rng, seed_from
from latentode.exceptions import ParameterError
from latentode.training import Checkpoint, Trainer

__all__ = ["BaseTorchEstimator", "Fitted", "resolve_device", "threaded", "torch_threads"]

logger = logging.getLogger(__name__)


def resolve_device(device: str | torch.device, owner: str = "estimator") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; otherwise check the device exists."""
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ParameterError(
                f"The 'device' parameter of {owner} must be 'auto', 'cpu', 'cuda' or "
                f"'cuda:N'. Got {device!r} instead."
            ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(
            f"The 'device' parameter of {owner} is {device!r} but CUDA is not available "
            "here. Use device='auto' or 'cpu'."
        )
    return resolved


def _same(value: Any) -> Any:
    return value


@dataclasses.dataclass(frozen=True)
class Fitted:
    """How one fitted attribute is written to and read from a model's JSON config.

    ``encode`` makes the attribute JSON-able; ``decode`` rebuilds it. ``optional``
    attributes may be missing from a config (older files) and are then None, or — with
    ``absent_is_unset`` — not set at all (as scikit-learn's ``feature_names_in_``).
    """

    encode: Callable[[Any], Any] = _same
    decode: Callable[[Any], Any] = _same
    optional: bool = False
    absent_is_unset: bool = False


#: Codecs of common kinds of fitted state.
AS_IS = Fitted()
TUPLE = Fitted(list, tuple)
ARRAY = Fitted(lambda a: np.asarray(a).tolist(), lambda v: np.asarray(v, dtype=np.float64))
INT = Fitted(int, int)
FLOAT = Fitted(float, float)

#: Fitted state every estimator has (besides ``module_`` and ``device_``).
COMMON_FITTED: dict[str, Fitted] = {
    "history_": AS_IS,
    "n_epochs_": INT,
    "best_epoch_": INT,
    "seed_": INT,
}


def _restore_params(cls: type[BaseTorchEstimator], params: dict[str, Any]) -> dict[str, Any]:
    """A saved model's parameters as the constructor takes them: tuples where the default
    is a tuple (JSON turns them into lists), and the parameters added since the file was
    written (:attr:`BaseTorchEstimator._params_added_later`) at the values that reproduce
    what the model did then."""
    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()}
    restored = {
        name: tuple(value)
        if isinstance(value, list) and isinstance(defaults.get(name), tuple)
        else value
        for name, value in params.items()
    }
    return _with_params_added_later(cls, restored)


def _with_params_added_later(
    cls: type[BaseTorchEstimator], params: dict[str, Any]
) -> dict[str, Any]:
    """``params`` (a saved config's, or a pickled estimator's attributes) completed, in
    place, with each of :attr:`BaseTorchEstimator._params_added_later` that it lacks."""
    for name, old_value in cls._params_added_later.items():
        if name not in params:
            params[name] = old_value(params)
    return params


@contextlib.contextmanager
def torch_threads(n: int | str | None, *, fitting: bool = False) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (None: leave the setting), restoring it after.

    ``"auto"`` means one thread while ``fitting`` and torch's setting otherwise (the
    measured choice, see the ``n_threads`` parameter).
    """
    if n == "auto" and not isinstance(n, bool):
        n = 1 if fitting else None
    if n is None:
        yield
        return
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(
            f"The 'n_threads' parameter must be 'auto', an int in the range [1, inf) or None. "
            f"Got {n!r} instead."
        )
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


F = TypeVar("F", bound=Callable[..., Any])


def threaded(method: F) -> F:
    """Decorate an estimator method to run under the estimator's ``n_threads`` (``fit``
    counts as fitting for ``"auto"``; every other method as inference)."""
    fitting = method.__name__ == "fit"

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with torch_threads(getattr(self, "n_threads", None), fitting=fitting):
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


class BaseTorchEstimator(BaseEstimator):
    """Base of estimators that wrap a torch module in ``module_``.

    Subclasses declare ``_parameter_constraints`` and ``_fitted`` and implement
    ``_prepare``, ``_build_module`` and ``_make_trainer`` (``_before_training`` and
    ``_after_fit`` are optional).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}
    #: Parameters that shape ``module_`` (checked against the saved weights by ``load``).
    _architecture: ClassVar[tuple[str, ...]] = ()
    #: Module tensors that models saved before they existed lack, whose initial values
    #: reproduce what those models did: ``load`` starts them there (see
    #: :meth:`_completed_state`).
    _state_added_later: ClassVar[tuple[str, ...]] = ()
    #: Parameters added after models were saved without them, whose default would change
    #: what such a model does: name -> the value that reproduces it, from the saved
    #: parameters (``load`` and unpickling use it).
    _params_added_later: ClassVar[dict[str, Callable[[dict[str, Any]], Any]]] = {}
    _fitted: ClassVar[dict[str, Fitted]] = {}
    #: Set by :func:`~latentode.estimators._registry.register`.
    _task: ClassVar[str]
    #: Subclasses narrow it to the class their ``_build_module`` returns.
    module_: torch.nn.Module

    # -- the fit skeleton ----------------------------------------------------------------
    @threaded
    def fit(self, X: Any, y: None = None, *, resume: bool = False) -> Any:
        """Fit on ``X``; ``resume=True`` continues from the checkpoint in ``checkpoint_dir``.

        Returns ``self``. If the fit raises (or is interrupted), the estimator keeps the
        fitted state it had before the call.
        """
        validate_params(self, self._parameter_constraints)
        if resume and self.checkpoint_dir is None:
            raise ParameterError("fit(resume=True) needs the 'checkpoint_dir' parameter set.")
        previous = self._fitted_snapshot()
        try:
            self.device_ = resolve_device(self.device, type(self).__name__)
            self.seed_ = seed_from(self.random_state)
            with isolated_rng(self.seed_, self.device_):
                prepared = self._prepare(X)
                self.module_ = self._build_module().to(self.device_)
                trainer = self._make_trainer(prepared)
                if resume:
                    trainer.resume(Path(self.checkpoint_dir) / Checkpoint.filename)
                else:
                    self._before_training(prepared)
                trainer.fit()
                self.history_ = trainer.history
                self.n_epochs_ = trainer.epoch
                self.best_epoch_ = trainer.best_epoch or trainer.epoch
                self._after_fit(prepared)
                for cb in trainer.callbacks:  # what needs the finished estimator (plots)
                    cb.on_estimator_fitted(self)
            self.module_.eval()
        except BaseException:
            self._restore_snapshot(previous)
            raise
        return self

    def _prepare(self, X: Any) -> Any:  # pragma: no cover - abstract
        """Validate and encode ``X``, set the data-derived fitted state, split it."""
        raise TypeError(f"{type(self).__name__} must define _prepare().")

    def _build_module(self) -> torch.nn.Module:  # pragma: no cover - abstract
        """The torch module described by the parameters and the fitted state."""
        raise TypeError(f"{type(self).__name__} must define _build_module().")

    def _make_trainer(self, prepared: Any) -> Trainer:  # pragma: no cover - abstract
        """The :class:`~latentode.training.Trainer` of ``module_`` on ``prepared`` data."""
        raise TypeError(f"{type(self).__name__} must define _make_trainer().")

    def _before_training(self, prepared: Any) -> None:
        """Runs before the first epoch of a fresh (not resumed) fit."""

    def _after_fit(self, prepared: Any) -> None:
        """Runs after training, with the kept weights loaded."""

    def _fitted_snapshot(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def _restore_snapshot(self, snapshot: dict[str, Any]) -> None:
        for name in list(self._fitted_snapshot()):
            delattr(self, name)
        for name, value in snapshot.items():
            setattr(self, name, value)

    # -- helpers for subclasses ----------------------------------------------------------
    def _max_epochs(self) -> int:
        """The fit's epoch budget (a subclass may resolve an automatic ``max_epochs``)."""
        return int(self.max_epochs)

    def _patience_epochs(self) -> int:
        """Early stopping's patience in epochs (a subclass may resolve ``"auto"``)."""
        return int(self.patience)

    def _check_fitted(self) -> None:
        check_is_fitted(self, "module_")

    def _fit_callbacks(self, has_validation: bool) -> list[Any]:
        """The fit loop's callbacks from the shared parameters ``early_stopping``,
        ``patience``, ``max_time``, ``checkpoint_dir``, ``checkpoint_every``, ``verbose`` and
        ``callbacks``, then those of :func:`latentode.training.add_global_callback`."""
        from latentode.training import (
            Callback,
            EarlyStopping,
            EpochLogger,
            ProgressBar,
            TimeLimit,
            global_callbacks,
        )
        from latentode.training.distributed import is_main_process

        # In a data-parallel fit only rank 0 writes: checkpoints, bars, logs, tracking.
        main = is_main_process()
        callbacks: list[Any] = []
        if self.early_stopping and has_validation:
            callbacks.append(EarlyStopping("val_loss", patience=self._patience_epochs()))
        if self.max_time is not None:
            callbacks.append(TimeLimit(self.max_time))
        if self.checkpoint_dir is not None and main:
            callbacks.append(Checkpoint(self.checkpoint_dir, every=self.checkpoint_every))
        # A bar on every fit, shown on a terminal only; verbose shows it anywhere and logs
        # each epoch.
        if main:
            bar = ProgressBar(
                type(self).__name__,
                disable=False if self.verbose else None,
                max_seconds=self.max_time,
            )
            callbacks.append(bar)
        if self.verbose and main:
            callbacks.append(EpochLogger())
        for k, cb in enumerate(self.callbacks or ()):
            if not isinstance(cb, Callback):
                raise ParameterError(
                    f"callbacks[{k}] must be a latentode.training.Callback (subclass it and "
                    f"override the hooks you need). Got {type(cb).__name__} instead."
                )
        return callbacks + list(self.callbacks or ()) + (global_callbacks(self) if main else [])

    def _trainer(
        self,
        module: torch.nn.Module,
        parts: Any,
        *,
        counter: Any,
        data_summary: dict[str, Any] | None = None,
    ) -> Trainer:
        """A :class:`~latentode.training.Trainer` of ``module`` from ``parts`` (a
        :class:`~latentode.training.TrainingParts`) with this estimator's callbacks,
        epoch budget and owner; ``counter`` (an ``NFECounter``) reports adjoint evaluations."""
        trainer = Trainer(
            module if parts.model is None else parts.model,
            parts.optimizer,
            parts.step,
            parts.batches,
            validate=parts.validate,
            callbacks=self._fit_callbacks(has_validation=parts.validate is not None),
            max_epochs=self._max_epochs(),
            scheduler=parts.scheduler,
            after_backward=lambda: {"nfe_backward": float(counter.backward)},
            sharded=parts.sharded,
        )
        trainer.generators = dict(parts.generators)
        trainer.owner = self
        trainer.data_summary = data_summary or {}
        return trainer

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Save the fitted estimator to directory ``path`` (atomically; see ``latentode.load``).

        Returns the path. An existing model directory at ``path`` is replaced only after
        the new one is completely written.
        """
        self._check_fitted()
        # Callbacks are live objects of this session (progress bars, tracking runs), not
        # part of the model: a loaded estimator starts without them.
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "callbacks"}
        if isinstance(params.get("random_state"), (np.random.RandomState, np.random.Generator)):
            params["random_state"] = None  # a generator's state is not JSON; seed_ is kept
        fitted = self._fitted_config()
        state = self.module_.state_dict()

        def write(tmp: Path) -> None:
            write_model_dir(tmp, type(self).__name__, params, fitted, state)

        return atomic_write_dir(path, write)

    def _fitted_config(self) -> dict[str, Any]:
        """The JSON-able fitted state, keyed by attribute name without the ``_``."""
        table = {**COMMON_FITTED, **self._fitted}
        return {
            name[:-1]: codec.encode(getattr(self, name))
            for name, codec in table.items()
            if hasattr(self, name) or not codec.absent_is_unset
        }

    def _restore_fitted(self, config: dict[str, Any]) -> None:
        for name, codec in {**COMMON_FITTED, **self._fitted}.items():
            key = name[:-1]
            if config.get(key) is None and codec.optional:
                if not codec.absent_is_unset:
                    setattr(self, name, None)
                continue
            setattr(self, name, codec.decode(config[key]))

    def _completed_state(
        self, state: dict[str, torch.Tensor], module: torch.nn.Module
    ) -> dict[str, torch.Tensor]:
        """``state`` with the :attr:`_state_added_later` tensors it lacks taken from
        ``module`` (a freshly built one): at those values they do not change what the
        model predicts."""
        fresh = module.state_dict()
        missing = {k: fresh[k] for k in self._state_added_later if k in fresh and k not in state}
        return {**state, **missing} if missing else state

    def _load_module(self, state: dict[str, torch.Tensor], device: str | None) -> None:
        module = self._build_module()
        module.load_state_dict(self._completed_state(state, module))
        wanted = device if device is not None else self.device
        try:
            target = resolve_device(wanted, type(self).__name__)
        except ParameterError:
            target = torch.device("cpu")
        self.device_ = target
        self.module_ = module.to(target).eval()

    # -- pickling: weights travel as CPU tensors, the module is rebuilt on unpickling ---
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # sklearn may return __dict__ itself
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = {k: v.detach().cpu() for k, v in module.state_dict().items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        module_state = state.pop("_module_state", None)
        super().__setstate__(_with_params_added_later(type(self), state))
        if module_state is not None:
            self._load_module(module_state, None)
