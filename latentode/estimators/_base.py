"""What every latentode estimator shares: device, seeding, persistence, pickling."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from latentode._persist import atomic_write_dir, write_model_dir
from latentode.exceptions import ParameterError

__all__ = ["BaseTorchEstimator", "resolve_device", "split_series"]


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


def split_series(
    n_series: int, fraction: float, enabled: bool, seed: int, logger: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation series (validation empty when disabled)."""
    order = np.random.default_rng(seed).permutation(n_series)
    n_val = round(fraction * n_series) if enabled else 0
    if enabled and (n_val < 1 or n_series - n_val < 1):
        logger.warning(
            "Only %d series: too few to hold out a validation set; early stopping is off.",
            n_series,
        )
        n_val = 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _restore_tuples(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """JSON turns tuples into lists: give back tuples where the default is a tuple."""
    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()}
    return {
        name: tuple(value)
        if isinstance(value, list) and isinstance(defaults.get(name), tuple)
        else value
        for name, value in params.items()
    }


class BaseTorchEstimator(BaseEstimator):
    """Base of estimators that wrap a torch module in ``module_``.

    Subclasses implement ``_build_module()`` (from fitted attributes), ``_fitted_config()``
    (JSON-able fitted state other than weights) and ``_restore_fitted(config)``.
    """

    _module_attr = "module_"

    # -- seeding -------------------------------------------------------------------------
    def _seed_from(self, random_state: Any) -> int:
        if isinstance(random_state, np.random.Generator):
            return int(random_state.integers(2**31 - 1))
        if isinstance(random_state, np.random.RandomState):
            return int(random_state.randint(2**31 - 1))
        if random_state is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        return int(random_state)

    def _check_fitted(self) -> None:
        check_is_fitted(self, self._module_attr)

    def _fit_callbacks(self, has_validation: bool) -> list[Any]:
        """The fit loop's callbacks from the shared parameters ``early_stopping``,
        ``patience``, ``max_time``, ``checkpoint_dir``, ``checkpoint_every``, ``verbose`` and
        ``callbacks``, then those of :func:`latentode.training.add_global_callback`."""
        from latentode.training import (
            Checkpoint,
            EarlyStopping,
            EpochLogger,
            ProgressBar,
            TimeLimit,
            global_callbacks,
        )

        callbacks: list[Any] = []
        if self.early_stopping and has_validation:
            callbacks.append(EarlyStopping("val_loss", patience=self.patience))
        if self.max_time is not None:
            callbacks.append(TimeLimit(self.max_time))
        if self.checkpoint_dir is not None:
            callbacks.append(Checkpoint(self.checkpoint_dir, every=self.checkpoint_every))
        if self.verbose:
            callbacks += [ProgressBar(type(self).__name__), EpochLogger()]
        return callbacks + list(self.callbacks or ()) + global_callbacks(self)

    def _trainer(
        self,
        module: Any,
        optimizer: Any,
        step: Any,
        batches: Any,
        validate: Any = None,
        *,
        counter: Any,
        scheduler: Any = None,
        data_summary: dict[str, Any] | None = None,
    ) -> Any:
        """A :class:`~latentode.training.Trainer` with this estimator's callbacks, epoch
        budget and owner; ``counter`` (an ``NFECounter``) reports adjoint evaluations."""
        from latentode.training import Trainer

        trainer = Trainer(
            module,
            optimizer,
            step,
            batches,
            validate=validate,
            callbacks=self._fit_callbacks(has_validation=validate is not None),
            max_epochs=self.max_epochs,
            scheduler=scheduler,
            after_backward=lambda: {"nfe_backward": float(counter.backward)},
        )
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
        module = getattr(self, self._module_attr)
        # Callbacks are live objects of this session (progress bars, tracking runs), not
        # part of the model: a loaded estimator starts without them.
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "callbacks"}
        fitted = self._fitted_config()

        def write(tmp: Path) -> None:
            write_model_dir(tmp, type(self).__name__, params, fitted, module.state_dict())

        return atomic_write_dir(path, write)

    @classmethod
    def _from_saved(
        cls, config: dict, state: dict[str, torch.Tensor], *, device: str | None = None
    ) -> BaseTorchEstimator:
        est = cls(**_restore_tuples(cls, config["params"]))
        est._restore_fitted(config["fitted"])
        est._load_module(state, device)
        return est

    def _load_module(self, state: dict[str, torch.Tensor], device: str | None) -> None:
        module = self._build_module()
        module.load_state_dict(state)
        wanted = device if device is not None else self.device
        try:
            target = resolve_device(wanted, type(self).__name__)
        except ParameterError:
            target = torch.device("cpu")
        self.device_ = target
        module.to(target).eval()
        setattr(self, self._module_attr, module)

    # -- pickling: weights travel as CPU tensors, the module is rebuilt on unpickling ---
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # sklearn may return __dict__ itself
        module = state.pop(self._module_attr, None)
        if module is not None:
            state["_module_state"] = {k: v.detach().cpu() for k, v in module.state_dict().items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        module_state = state.pop("_module_state", None)
        super().__setstate__(state)
        if module_state is not None:
            self._load_module(module_state, None)

    # -- hooks for subclasses ------------------------------------------------------------
    def _build_module(self) -> torch.nn.Module:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must define _build_module().")

    def _fitted_config(self) -> dict:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must define _fitted_config().")

    def _restore_fitted(self, config: dict) -> None:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must define _restore_fitted().")
