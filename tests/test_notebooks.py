"""Every notebook's code cells run top to bottom (with a shortened training budget)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


#: MLflow's own UserWarning / FutureWarning (on import, logging and serving) are not the
#: notebook's to fix; anything else a notebook triggers is still an error.
MLFLOW_WARNINGS = [
    pytest.mark.filterwarnings("ignore::UserWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pydantic.*"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=MLFLOW_WARNINGS if "mlflow" in p.name else []) for p in NOTEBOOKS],
    ids=[p.name for p in NOTEBOOKS],
)
def test_notebook_runs(path, monkeypatch):
    matplotlib.use("Agg")
    cells = json.loads(path.read_text())["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    source = re.sub(r"max_time=\d+", "max_time=3", source).replace("verbose=True", "verbose=False")
    monkeypatch.chdir(path.parent)
    exec(compile(source, str(path), "exec"), {"__name__": "__notebook__"})


def test_there_is_a_notebook():
    assert NOTEBOOKS
