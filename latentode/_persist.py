"""Saving and loading fitted estimators: a directory with JSON config and tensor weights.

Layout of a model directory::

    latentode.json   {"format": "latentode-model", "format_version": 1, "class": ...,
                      "params": {...}, "fitted": {...}, "latentode_version": ...}
    weights.pt       the torch module's state dict (loaded with ``weights_only=True``)

Writes go to a temporary sibling directory that is renamed into place, so a failed save
never leaves a half-written model where the old one was. Replacing a model takes two renames
(old model aside, new one in); a kill between them is repaired by the next save or load of
that path (:func:`recover` puts the old model back), and a finished save removes the
temporary folders that killed saves left. The directory and its files get
the permissions the umask allows (0o755 / 0o644 under umask 022).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from latentode.exceptions import ModelFileError

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "atomic_file",
    "atomic_write_dir",
    "read_model_dir",
    "write_model_dir",
]

CONFIG_FILE = "latentode.json"
WEIGHTS_FILE = "weights.pt"
FORMAT = "latentode-model"
FORMAT_VERSION = 1
#: A config is parameters and small fitted state (scalers, histories): far below these.
MAX_CONFIG_BYTES = 64 * 2**20
MAX_CONFIG_DEPTH = 32

logger = logging.getLogger(__name__)


def atomic_write_dir(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_dir)`` and move ``tmp_dir`` to ``path`` only if it succeeded.

    An existing ``path`` is replaced only when it is a latentode model directory (or
    empty); anything else raises :class:`ModelFileError` instead of being overwritten.
    """
    path = Path(path)
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    recover(path)
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
    _clean_leftovers(path)
    return path


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; it becomes ``path`` (one rename) only
    when the block finishes, so ``path`` is never a partial file. A failure removes it."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_CONFIG_DEPTH:
        return level
    if isinstance(value, dict):
        return max([level, *(_depth(v, level + 1) for v in value.values())])
    if isinstance(value, list):
        return max([level, *(_depth(v, level + 1) for v in value)])
    return level


def recover(path: Path) -> None:
    """Put back the previous model if a save was killed between its two renames.

    ``atomic_write_dir`` moves the old model to ``.<name>.old-*`` and the new one into
    place; a kill in between leaves no model at ``path``. The newest complete ``.old-*``
    sibling is renamed back (the last model whose save finished).
    """
    if path.exists():
        return
    olds = [
        p
        for p in path.parent.glob(f".{path.name}.old-*")
        if (p / CONFIG_FILE).is_file() and (p / WEIGHTS_FILE).is_file()
    ]
    if olds:
        newest = max(olds, key=lambda p: p.stat().st_mtime)
        os.replace(newest, path)
        logger.warning("Recovered '%s' from an interrupted save ('%s').", path, newest.name)


def _clean_leftovers(path: Path) -> None:
    """Remove the temporary and old folders that killed saves of ``path`` left behind."""
    for pattern in (f".{path.name}.tmp-*", f".{path.name}.old-*"):
        for leftover in path.parent.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)


def read_model_dir(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read and check a model directory; return ``(config, state_dict)``.

    A model left behind by a save killed between its renames is recovered first.
    """
    path = Path(path)
    recover(path)
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise ModelFileError(
            f"'{path}' is not a latentode model directory: '{CONFIG_FILE}' is missing."
        )
    size = config_path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ModelFileError(
            f"'{config_path}' is {size} bytes; a model config is at most {MAX_CONFIG_BYTES}."
        )
    try:
        config = json.loads(config_path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"'{config_path}' is not valid UTF-8 JSON: {exc}.") from exc
    if not isinstance(config, dict):
        raise ModelFileError(f"'{config_path}' must hold a JSON object.")
    if _depth(config) > MAX_CONFIG_DEPTH:
        raise ModelFileError(f"'{config_path}' is nested deeper than {MAX_CONFIG_DEPTH} levels.")
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
