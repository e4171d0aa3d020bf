"""Saved models and checkpoints get the permissions the umask allows, like any other file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from latentode._persist import atomic_write_dir, read_model_dir, write_model_dir
from latentode.training.callbacks import atomic_torch_save


@pytest.fixture(params=[0o022, 0o027])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write(tmp: Path) -> None:
    write_model_dir(tmp, "Model", {}, {}, {"w": torch.zeros(2)})


def test_a_saved_model_directory_follows_the_umask(umask: int, tmp_path: Path) -> None:
    path = atomic_write_dir(tmp_path / "model", _write)
    assert _mode(path) == 0o777 & ~umask  # 0o755 under umask 022
    files = list(path.iterdir())
    assert files and {_mode(f) for f in files} == {0o666 & ~umask}  # 0o644 under umask 022
    atomic_write_dir(path, _write)  # replacing a model keeps the modes too
    assert _mode(path) == 0o777 & ~umask
    assert read_model_dir(path)[0]["class"] == "Model"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_checkpoint_follows_the_umask(umask: int, tmp_path: Path) -> None:
    path = tmp_path / "ckpt" / "checkpoint.pt"
    atomic_torch_save({"epoch": 1}, path)
    atomic_torch_save({"epoch": 2}, path)
    assert _mode(path) == 0o666 & ~umask
    assert torch.load(path, weights_only=True) == {"epoch": 2}
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]
