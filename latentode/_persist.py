"""Saving and loading fitted estimators: a directory with JSON config and tensor weights.

Layout of a model directory::

    latentode.json   {"format": "latentode-model", "format_version": 1, "class": ...,
                      "params": {...}, "fitted": {...}, "latentode_version": ...}
    weights.pt       the torch module's state dict (loaded with ``weights_only=True``)

Writes go to a temporary sibling directory that is renamed into place, so a failed save
never leaves a half-written model where the old one was. The directory and its files get
the permissions the umask allows (0o755 / 0o644 under umask 022).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from latentode.exceptions import ModelFileError

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "atomic_write_dir",
    "read_model_dir",
    "write_model_dir",
]

CONFIG_FILE = "latentode.json"
WEIGHTS_FILE = "weights.pt"
FORMAT = "latentode-model"
FORMAT_VERSION = 1


def atomic_write_dir(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_dir)`` and move ``tmp_dir`` to ``path`` only if it succeeded.

    An existing ``path`` is replaced only when it is a latentode model directory (or
    empty); anything else raises :class:`ModelFileError` instead of being overwritten.
    """
    path = Path(path)
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not (
        (path.is_dir() and (path / CONFIG_FILE).is_file())
        or (path.is_dir() and not any(path.iterdir()))
    ):
        raise ModelFileError(
            f"Refusing to overwrite '{path}': it exists and is not a latentode model "
            "directory. Choose another path or remove it first."
        )
    # Not tempfile.mkdtemp: its directory is 0o700 whatever the umask, and the model must be
    # as readable as any file the user writes.
    tmp = parent / f".{path.name}.tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        old = parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
    return path


def write_model_dir(
    directory: Path, cls_name: str, params: dict, fitted: dict, state: dict[str, torch.Tensor]
) -> None:
    from latentode._version import __version__

    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": cls_name,
        "latentode_version": __version__,
        "params": params,
        "fitted": fitted,
    }
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=_json_default))
    torch.save({k: v.detach().cpu() for k, v in state.items()}, directory / WEIGHTS_FILE)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"Cannot store {type(value).__name__} in a model config.")


def read_model_dir(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read and check a model directory; return ``(config, state_dict)``."""
    path = Path(path)
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise ModelFileError(
            f"'{path}' is not a latentode model directory: '{CONFIG_FILE}' is missing."
        )
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"'{config_path}' is not valid JSON: {exc}.") from exc
    if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"'{config_path}' has format {config.get('format')!r} version "
            f"{config.get('format_version')!r}; expected {FORMAT!r} version {FORMAT_VERSION}."
        )
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFileError(f"'{path}' is incomplete: '{WEIGHTS_FILE}' is missing.")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: name it, keep the cause
        raise ModelFileError(f"Cannot read weights from '{weights}': {exc}") from exc
    return config, state
