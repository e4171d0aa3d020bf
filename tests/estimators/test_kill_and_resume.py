"""A fit killed (SIGKILL) or interrupted (SIGINT) from outside the process resumes from its
checkpoint to the same losses as an uninterrupted fit."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from latentode import LatentODEForecaster
from latentode.datasets import make_periodic
from latentode.training import Checkpoint

PARAMS = dict(
    latent_dim=3,
    encoder_hidden_dim=6,
    field_hidden_dim=8,
    batch_size=8,
    max_epochs=6,
    early_stopping=False,
    random_state=0,
    n_threads=1,
)

CHILD = """
import sys, time
from latentode import LatentODEForecaster
from latentode.datasets import make_periodic
from latentode.training import Callback

class Announce(Callback):
    def on_epoch_end(self, trainer, logs):
        print(f"epoch {logs['epoch']}", f"{time.perf_counter():.3f}", flush=True)

df = make_periodic(n_series=160, n_points=30, observed_fraction=0.6, random_state=1)
params = eval(sys.argv[1])
LatentODEForecaster(**params, checkpoint_dir=sys.argv[2], callbacks=[Announce()]).fit(df)
"""


def _frame():
    # Big enough that an epoch takes a good fraction of a second: the signal sent on
    # reading "epoch 3" lands inside epoch 4.
    return make_periodic(n_series=160, n_points=30, observed_fraction=0.6, random_state=1)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "sigint"])
def test_a_fit_stopped_from_outside_resumes_to_the_uninterrupted_losses(sig, tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, repr(PARAMS), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.split()[:2] == ["epoch", "3"]:
            proc.send_signal(sig)
            break
    proc.wait(timeout=60)
    proc.stdout.close()
    assert proc.returncode != 0  # it was stopped, not finished
    saved = torch.load(tmp_path / Checkpoint.filename, weights_only=False)
    assert saved["epoch"] == 3  # stopped inside epoch 4: the last complete epoch was kept
    resumed = LatentODEForecaster(**PARAMS, checkpoint_dir=str(tmp_path)).fit(_frame(), resume=True)
    full = LatentODEForecaster(**PARAMS).fit(_frame())
    assert [h["epoch"] for h in resumed.history_] == list(range(1, 7))
    assert [h["train_loss"] for h in resumed.history_] == [h["train_loss"] for h in full.history_]
