"""The fit loop and its callbacks."""

from latentode.training.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochLogger,
    ProgressBar,
    TimeLimit,
    add_global_callback,
    global_callbacks,
    remove_global_callback,
)
from latentode.training.loop import Trainer, TrainingParts

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "EpochLogger",
    "ProgressBar",
    "TimeLimit",
    "Trainer",
    "TrainingParts",
    "add_global_callback",
    "global_callbacks",
    "remove_global_callback",
]
