"""Named random streams: one seed per purpose, derived from the fit's seed.

A fit turns ``random_state`` into one integer ``seed_`` and every random draw of the fit and
of later predictions comes from a generator seeded by ``seed_ + offset`` of its purpose.
The offsets are part of a saved model's reproducibility (a loaded model predicts the same
draws), so they never change; a new purpose gets a new offset.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

__all__ = ["STREAMS", "generator", "isolated_rng", "seed_from", "stream_seed"]

#: Purpose → offset from the fit's seed.
STREAMS: dict[str, int] = {
    "init": 0,  # module initialisation (the torch global stream inside the fit)
    "split": 0,  # which series / rows are held out for validation
    "train_noise": 0,  # reparametrisation noise, training contexts, Hutchinson probes
    "batches": 1,  # the order of training batches
    "validation": 2,  # noise of the validation loss
    "calibration": 3,  # contexts of the forecaster's noise calibration
    "warm_start": 3,  # the dynamics' gradient-matching warm start
    "predict": 7,  # predictive draws (common random numbers)
    "score": 11,  # importance samples of score_samples
    "predict_observation": 13,  # observation noise of predictive draws, per query position
    "predict_tails": 17,  # the χ² mixing draws of Student-t observation noise
}


def seed_from(random_state: Any) -> int:
    """An int seed from ``random_state`` (int, RandomState, Generator or None)."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    return int(random_state)


def stream_seed(seed: int, purpose: str) -> int:
    """The seed of ``purpose``'s stream."""
    return seed + STREAMS[purpose]


def generator(seed: int, purpose: str, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh torch generator on ``device`` for ``purpose``'s stream."""
    return torch.Generator(device=device).manual_seed(stream_seed(seed, purpose))


@contextlib.contextmanager
def isolated_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global stream for the block and restore the caller's state after it.

    Module initialisation draws from the global stream; forking it keeps a fit
    reproducible without reseeding the caller's random state.
    """
    devices = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(stream_seed(seed, "init"))
        yield
