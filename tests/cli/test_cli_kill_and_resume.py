"""``latentode fit --checkpoint-dir`` killed by SIGKILL from outside, then rerun with
``--resume``, saves a model whose training history equals an uninterrupted CLI fit's."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import latentode
from latentode.datasets import make_periodic
from latentode.training import Checkpoint

PARAMS = dict(
    latent_dim=3,
    encoder_hidden_dim=6,
    field_hidden_dim=8,
    batch_size=8,
    max_epochs=12,
    early_stopping=False,
    n_threads=1,
)

# The console script's own entry point, run with this interpreter (no PATH lookup).
LAUNCH = "import sys; from latentode.cli import main; sys.exit(main())"


def _fit_command(data: Path, model: Path, ckpt: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        LAUNCH,
        "-v",  # INFO logs: a resumed run says where it resumed
        "fit",
        "--data",
        str(data),
        "--model",
        str(model),
        "--params",
        json.dumps(PARAMS),
        "--checkpoint-dir",
        str(ckpt),
        "--quiet",
        *extra,
    ]


def _checkpoint_epoch(ckpt: Path) -> int:
    path = ckpt / Checkpoint.filename
    if not path.is_file():
        return 0
    try:  # written by rename, so a file that exists is whole; be safe anyway
        return int(torch.load(path, weights_only=False)["epoch"])
    except Exception:
        return 0


@pytest.mark.slow
def test_cli_fit_killed_then_resumed_saves_the_uninterrupted_model(tmp_path: Path):
    data = tmp_path / "train.csv"
    make_periodic(n_series=160, n_points=30, observed_fraction=0.6, random_state=1).to_csv(
        data, index=False
    )
    ckpt = tmp_path / "ckpt"
    killed_at = None
    proc = subprocess.Popen(
        _fit_command(data, tmp_path / "never", ckpt),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            epoch = _checkpoint_epoch(ckpt)
            if epoch >= 3:
                proc.send_signal(signal.SIGKILL)
                killed_at = epoch
                break
            time.sleep(0.02)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed_at is not None, "the fit finished or stalled before its third checkpoint"
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "never").exists()  # no model was saved by the killed run
    kept = _checkpoint_epoch(ckpt)
    assert 3 <= kept < PARAMS["max_epochs"]

    resumed = subprocess.run(
        _fit_command(data, tmp_path / "resumed", ckpt, "--resume"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"at epoch {kept}" in resumed.stderr  # it resumed, rather than refitting from scratch
    full = subprocess.run(
        _fit_command(data, tmp_path / "full", tmp_path / "ckpt_full"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert full.returncode == 0, full.stderr

    a = latentode.load(tmp_path / "resumed")
    b = latentode.load(tmp_path / "full")
    assert [h["epoch"] for h in a.history_] == list(range(1, PARAMS["max_epochs"] + 1))
    assert [h["train_loss"] for h in a.history_] == [h["train_loss"] for h in b.history_]
    for name, weight in a.module_.state_dict().items():
        torch.testing.assert_close(weight, b.module_.state_dict()[name], rtol=0, atol=0)
