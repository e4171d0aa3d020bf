"""Shared fixtures: one thread (the CI machine has 2 busy cores), fixed seeds."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002 - code under test may use the legacy global RNG


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def saved_before() -> Callable[[Path, Sequence[str], Sequence[str]], None]:
    """Rewrite a saved model directory as an older version wrote it: without the module
    tensors ``state`` and the parameters ``params`` that came in later."""

    def rewrite(path: Path, state: Sequence[str], params: Sequence[str]) -> None:
        weights = torch.load(path / "weights.pt", weights_only=True)
        for key in state:
            del weights[key]
        torch.save(weights, path / "weights.pt")
        config = json.loads((path / "latentode.json").read_text())
        for name in params:
            del config["params"][name]
        (path / "latentode.json").write_text(json.dumps(config))

    return rewrite


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
