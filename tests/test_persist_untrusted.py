"""A model directory is untrusted input: every malformed one raises ModelFileError only,
and a save killed at any point leaves a loadable model at its path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import latentode._persist as persist
from latentode import LatentODEForecaster, load
from latentode._persist import CONFIG_FILE, WEIGHTS_FILE
from latentode.datasets import make_periodic
from latentode.exceptions import ModelFileError

TINY = dict(latent_dim=3, encoder_hidden_dim=6, field_hidden_dim=8, field_layers=1)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    df = make_periodic(n_series=12, n_points=12, random_state=0)
    est = LatentODEForecaster(**TINY, max_epochs=1, random_state=0).fit(df)
    return est.save(tmp_path_factory.mktemp("models") / "model")


def _config(path: Path) -> dict:
    return json.loads((path / CONFIG_FILE).read_text())


def _set(key: str, value) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        config["params"][key] = value

    return edit


def _nest(depth: int) -> str:
    return "[" * depth + "]" * depth


CONFIG_TAMPERING: dict[str, Callable[[dict], object]] = {
    "field_hidden_dim=1e7": _set("field_hidden_dim", 10**7),
    "field_layers=1e6": _set("field_layers", 10**6),
    "field_hidden_dim=512 (in range, wrong shapes)": _set("field_hidden_dim", 512),
    "latent_dim changed": _set("latent_dim", 4),
    "time_span=-5": _set("time_span", -5.0),
    "step_size=0": _set("step_size", 0.0),
    "latent_dim a string": _set("latent_dim", "eight"),
    "unknown parameter": _set("not_a_parameter", 1),
    "params a list": lambda c: c.update(params=[1, 2]),
    "fitted missing": lambda c: c.pop("fitted"),
    "fitted data garbage": lambda c: c["fitted"].update(data={"x": 1}),
    "fitted data removed": lambda c: c["fitted"].pop("data"),
    "class a list": lambda c: c.update({"class": ["LatentODEForecaster"]}),
    "class unknown": lambda c: c.update({"class": "Evil"}),
    "format version 99": lambda c: c.update(format_version=99),
    "feature columns renamed to more": lambda c: c["fitted"].update(
        feature_cols=["a", "b", "c", "d"]
    ),
}


def _copy(saved: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy"
    dest.mkdir()
    for f in saved.iterdir():
        (dest / f.name).write_bytes(f.read_bytes())
    return dest


@pytest.mark.parametrize("name", sorted(CONFIG_TAMPERING))
def test_tampered_config_raises_model_file_error(name, saved, tmp_path):
    path = _copy(saved, tmp_path)
    config = _config(path)
    CONFIG_TAMPERING[name](config)
    (path / CONFIG_FILE).write_text(json.dumps(config))
    start = time.perf_counter()
    with pytest.raises(ModelFileError):
        load(path)
    assert time.perf_counter() - start < 10.0


RAW_TAMPERING: dict[str, bytes] = {
    "binary": b"\xff\xfe\x00garbage",
    "empty": b"",
    "json list": b"[1, 2, 3]",
    "deep nesting": _nest(100_000).encode(),
    "truncated": b'{"format": "latentode-model", "format_',
}


@pytest.mark.parametrize("name", sorted(RAW_TAMPERING))
def test_malformed_config_bytes_raise_model_file_error(name, saved, tmp_path):
    path = _copy(saved, tmp_path)
    (path / CONFIG_FILE).write_bytes(RAW_TAMPERING[name])
    with pytest.raises(ModelFileError):
        load(path)


def _state_edit(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        state = torch.load(path / WEIGHTS_FILE, weights_only=True)
        edit(state)
        torch.save(state, path / WEIGHTS_FILE)

    return apply


def _first(state: dict) -> str:
    return next(k for k, v in state.items() if v.is_floating_point() and v.dim() == 2)


WEIGHT_TAMPERING: dict[str, Callable[[Path], None]] = {
    "nan weight": _state_edit(lambda s: s[_first(s)].fill_(float("nan"))),
    "wrong shape": _state_edit(lambda s: s.update({_first(s): torch.zeros(3, 3, 3)})),
    "missing key": _state_edit(lambda s: s.pop(_first(s))),
    "extra key": _state_edit(lambda s: s.update(extra=torch.zeros(2))),
    "not a dict": lambda p: torch.save([torch.zeros(2)], p / WEIGHTS_FILE),
    "truncated": lambda p: (p / WEIGHTS_FILE).write_bytes((p / WEIGHTS_FILE).read_bytes()[:100]),
}


@pytest.mark.parametrize("name", sorted(WEIGHT_TAMPERING))
def test_tampered_weights_raise_model_file_error(name, saved, tmp_path):
    path = _copy(saved, tmp_path)
    WEIGHT_TAMPERING[name](path)
    with pytest.raises(ModelFileError):
        load(path)


def test_untampered_copy_loads_and_predicts_like_the_original(saved, tmp_path):
    df = make_periodic(n_series=3, n_points=12, random_state=5)
    a = load(saved).predict(df, horizon=1.0, n_points=3)
    b = load(_copy(saved, tmp_path)).predict(df, horizon=1.0, n_points=3)
    np.testing.assert_array_equal(a["y"], b["y"])


def test_kill_between_the_two_renames_is_recovered(saved, tmp_path, monkeypatch):
    path = tmp_path / "model"
    est = load(saved)
    est.save(path)
    expected = _config(path)
    real_replace = os.replace
    calls = []

    def dies_on_second(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # old model moved aside, new one not yet in place
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(persist.os, "replace", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        est.save(path)
    monkeypatch.setattr(persist.os, "replace", real_replace)
    assert not path.exists()  # the state a kill at that instant leaves
    assert _config(load(path).save(tmp_path / "again")) == _config(tmp_path / "again")
    assert path.exists() and _config(path) == expected  # load put the old model back
    est.save(path)  # the next save also cleans up what the killed one left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "model"]


KILLER = """
import sys, time
from latentode import load
est = load(sys.argv[1])
print("ready", flush=True)
while True:
    est.save(sys.argv[2])
"""


@pytest.mark.slow
def test_twenty_random_sigkills_during_save_always_leave_a_loadable_model(saved, tmp_path):
    target = tmp_path / "model"
    load(saved).save(target)
    rng = np.random.default_rng(0)
    for _ in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLER, str(saved), str(target)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.3)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert load(target).feature_cols_ == ("y",)
    load(saved).save(target)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
