"""Data-parallel training: ``latentode fit --nproc 2`` (torchrun, gloo on CPU) against one
process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import latentode
from latentode.datasets import make_periodic
from latentode.training.distributed import World, all_sum, any_rank, is_main_process, world

PARAMS = {
    "latent_dim": 3,
    "encoder_hidden_dim": 8,
    "field_hidden_dim": 16,
    "max_epochs": 3,
    "batch_size": 16,
    "n_samples": 4,
    "device": "cpu",
}


def _fit(data: Path, model: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "latentode.cli", "fit", "--quiet", "--data", str(data)]
    command += ["--model", str(model), "--params", json.dumps(PARAMS), *extra]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def test_two_processes_follow_the_single_process_fit(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    make_periodic(n_series=40, n_points=20, random_state=0).to_csv(data, index=False)
    one = _fit(data, tmp_path / "one")
    assert one.returncode == 0, one.stderr
    two = _fit(data, tmp_path / "two", "--nproc", "2")
    assert two.returncode == 0, two.stderr
    assert "(2 processes)" in two.stdout  # it really ran as a group of two
    single, parallel = latentode.load(tmp_path / "one"), latentode.load(tmp_path / "two")
    assert len(parallel.history_) == len(single.history_) == 3
    for key in ("train_loss", "val_loss", "train_mse", "kl"):
        got = [h[key] for h in parallel.history_]
        want = [h[key] for h in single.history_]
        np.testing.assert_allclose(got, want, rtol=1e-4, err_msg=key)
    for (name, a), b in zip(
        single.module_.state_dict().items(), parallel.module_.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name)


def test_outside_a_process_group_everything_is_local() -> None:
    assert world() is None and is_main_process()
    assert all_sum([1.5, 2.0]) == [1.5, 2.0]
    assert any_rank(True) and not any_rank(False)
    assert World(1, 3).rows(8).tolist() == [1, 4, 7]


def test_nproc_must_be_positive(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    make_periodic(n_series=4, n_points=5, random_state=0).to_csv(data, index=False)
    bad = _fit(data, tmp_path / "m", "--nproc", "0")
    assert bad.returncode == 2 and "--nproc must be an int >= 1" in bad.stderr


@pytest.mark.parametrize("n", [2])
def test_launch_command_drops_only_the_nproc_option(
    monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    from latentode.cli import _commands

    seen: list[list[str]] = []
    monkeypatch.setattr(subprocess, "call", lambda cmd: seen.append(cmd) or 0)
    argv = ["fit", "--data", "d.csv", "--nproc", str(n), "--model", "m", f"--nproc={n}"]
    assert _commands._launch(argv, n) == 0
    assert seen[0][1:6] == [
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={n}",
        "-m",
    ]
    assert seen[0][6:] == ["latentode.cli", "fit", "--data", "d.csv", "--model", "m"]


CONFIGS = """
import torch
from latentode import LatentODEForecaster
from latentode.datasets import make_periodic
from latentode.training.distributed import init_from_env

torch.set_num_threads(1)
group = init_from_env("cpu")
assert group is not None and group.size == 2
df = make_periodic(n_series=20, n_points=10, random_state=0)
base = dict(latent_dim=3, encoder_hidden_dim=8, field_hidden_dim=16, max_epochs=2,
            batch_size=8, device="cpu", random_state=0, method="rk4")
for cfg in [{"posterior": "ffjord", "flow_kinetic_weight": 0.1}, {"model": "ode_rnn"},
            {"observation": "gaussian", "decoder_hidden_dim": 8}, {"encoder": "gru"},
            {"encoder": "grud"}, {"bound": "iwae", "n_train_samples": 3}]:
    LatentODEForecaster(**base, **cfg).fit(df)
    if group.rank == 0:
        print("ok", sorted(cfg), flush=True)
"""


def test_every_model_part_trains_data_parallel(tmp_path: Path) -> None:
    # DDP runs without find_unused_parameters: every parameter must get a gradient in each
    # step, or the second step fails; this covers each model, encoder, posterior and head.
    script = tmp_path / "configs.py"
    script.write_text(CONFIGS)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node=2", str(script)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("ok ") == 6
