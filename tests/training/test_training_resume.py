"""Trainer.resume: a checkpoint that does not fit the model is a ModelFileError, not a
torch traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from latentode.exceptions import ModelFileError
from latentode.training import Checkpoint, Trainer


def _trainer(model: torch.nn.Module, tmp_path: Path, max_epochs: int = 1) -> Trainer:
    x = torch.randn(8, model.in_features)

    def step(batch: Any, epoch: int) -> dict[str, Any]:
        return {"loss": model(batch).pow(2).mean()}

    return Trainer(
        model,
        torch.optim.Adam(model.parameters(), lr=1e-2),
        step,
        lambda epoch: [x],
        callbacks=[Checkpoint(tmp_path)],
        max_epochs=max_epochs,
    )


def test_resume_continues_from_the_checkpoint(tmp_path: Path) -> None:
    _trainer(torch.nn.Linear(3, 2), tmp_path).fit()
    resumed = _trainer(torch.nn.Linear(3, 2), tmp_path, max_epochs=2)
    resumed.resume(tmp_path / Checkpoint.filename)
    assert resumed.epoch == 1
    assert resumed.fit().epoch == 2


@pytest.mark.parametrize(
    ("model", "detail"),
    [
        (torch.nn.Linear(4, 2), "'weight' has shape (2, 4) here but (2, 3) in the checkpoint"),
        (torch.nn.Linear(3, 2, bias=False), "'bias' is in the checkpoint but not in the model"),
    ],
    ids=["shape", "key"],
)
def test_a_checkpoint_of_other_parameters_is_a_model_file_error(
    model: torch.nn.Module, detail: str, tmp_path: Path
) -> None:
    _trainer(torch.nn.Linear(3, 2), tmp_path).fit()
    path = tmp_path / Checkpoint.filename
    with pytest.raises(ModelFileError) as info:
        _trainer(model, tmp_path).resume(path)
    message = str(info.value)
    assert f"The checkpoint '{path}' was written with other parameters or data" in message
    assert detail in message
    assert "resume" in message


def test_a_key_missing_from_the_checkpoint_is_named(tmp_path: Path) -> None:
    _trainer(torch.nn.Linear(3, 2, bias=False), tmp_path).fit()
    with pytest.raises(ModelFileError, match="'bias' is in the model but not in the checkpoint"):
        _trainer(torch.nn.Linear(3, 2), tmp_path).resume(tmp_path / Checkpoint.filename)


def test_a_corrupt_checkpoint_is_a_model_file_error(tmp_path: Path) -> None:
    path = tmp_path / Checkpoint.filename
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError, match="cannot be read"):
        _trainer(torch.nn.Linear(3, 2), tmp_path).resume(path)
