"""The fit loop and its callbacks."""

from latentode.training.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochLogger,
    ProgressBar,
    TimeLimit,
)
from latentode.training.loop import Trainer

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "EpochLogger",
    "ProgressBar",
    "TimeLimit",
    "Trainer",
]
