"""The README Quickstart, run verbatim: it must work and beat its own baselines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def _quickstart() -> str:
    text = README.read_text()
    section = text[text.index("## Quickstart") :]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "the Quickstart has a python block"
    return match.group(1)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_quickstart_runs_and_beats_last_value_and_linear_interpolation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # it saves model_dir
    torch.set_num_threads(1)
    namespace: dict = {}
    exec(compile(_quickstart(), str(README), "exec"), namespace)  # our own README
    scores = namespace["scores"]
    model = scores["LatentODEForecaster"]
    assert model < scores["LastValueBaseline"], scores
    assert model < scores["LinearInterpolationBaseline"], scores
    assert (tmp_path / "model_dir").is_dir()
    assert namespace["est2"].get_params() == namespace["est"].get_params()
