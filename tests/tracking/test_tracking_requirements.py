"""A logged model's requirements cover every import that loading ``latentode`` runs.

Fast: the package's module-level imports are read with ``ast``, mapped to their
distributions and compared with :func:`pinned_requirements` (which ``test_tracking_model``
shows is what ``requirements.txt`` holds). Slow: a virtual environment is built from a logged
model's ``requirements.txt`` and the model loads and predicts there.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

import latentode
from latentode.tracking import _log_model, pinned_requirements

PACKAGE = Path(latentode.__file__).parent


def _module_level_imports(tree: ast.AST) -> set[str]:
    """Top-level names imported outside function bodies (run when the module is imported)."""
    names: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        names |= _module_level_imports(node)
    return names


def _third_party_imports() -> dict[str, set[str]]:
    """Import name → files of the shipped package that import it at module level."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for name in _module_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if name in sys.stdlib_module_names or name in ("__future__", "latentode"):
                continue
            found.setdefault(name, set()).add(str(path.relative_to(PACKAGE)))
    return found


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _required(lines: list[str]) -> set[str]:
    return {
        _normalise(re.match(r"[A-Za-z0-9_.\-]+", line).group(0))
        for line in lines
        if not line.startswith("-")
    }


def _assert_covered(required: set[str]) -> None:
    dists = importlib.metadata.packages_distributions()
    missing = {
        name: sorted(files)
        for name, files in _third_party_imports().items()
        if not {_normalise(d) for d in dists.get(name, [name])} & required
    }
    assert not missing, f"imported at module level but not in the requirements: {missing}"


def test_scan_sees_the_packages_runtime_imports() -> None:
    found = _third_party_imports()
    assert {"numpy", "torch", "tqdm"} <= set(found)
    assert "training/callbacks.py" in found["tqdm"]


def test_requirements_cover_every_module_level_import() -> None:
    _assert_covered(_required(pinned_requirements()))


def test_source_tree_requirements_cover_every_module_level_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without latentode's metadata (running from a source tree) the fallback list is used."""

    def not_installed(name: str) -> list[str]:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(_log_model.importlib.metadata, "requires", not_installed)
    _assert_covered(_required(pinned_requirements()))


def test_source_tree_requirements_equal_pyproject_dependencies() -> None:
    tomllib = pytest.importorskip("tomllib")
    pyproject = PACKAGE.parent / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("latentode is not running from a source tree")
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    assert _required(declared) == _required(list(_log_model._SOURCE_TREE_DEPENDENCIES))


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_logged_model_loads_and_predicts_in_a_venv_built_from_its_requirements(
    registered: dict, tmp_path: Path
) -> None:
    """What ``mlflow models serve --env-manager virtualenv`` does: a fresh environment from
    the model's own ``requirements.txt`` (latentode itself comes from the model's ``code/``)."""
    import json
    import os
    import subprocess

    import mlflow
    import pandas as pd

    from latentode.tracking import model_uri

    uri = model_uri(registered["name"], "champion")
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model")))
    lines = (local / "requirements.txt").read_text().splitlines()
    assert not any(line.split("==")[0].strip() == "latentode" for line in lines)
    # Index options point at the internet; pip's own configuration finds the same wheels here.
    offline = tmp_path / "requirements.txt"
    offline.write_text("\n".join(line for line in lines if not line.startswith("-")) + "\n")
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    done = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", str(offline)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    script = (
        "import json, sys, mlflow\n"
        "model = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "example = model.input_example\n"
        "out = model.predict(example, params={'quantiles': []})\n"
        "import latentode\n"
        "print(json.dumps({'where': latentode.__file__, 'y': out['y'].tolist()}))\n"
    )
    done = subprocess.run(
        [python, "-c", script, str(local)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert str(local) in answer["where"], "latentode must come from the model's code/ copy"
    champion = mlflow.pyfunc.load_model(uri)
    here = champion.predict(champion.input_example, params={"quantiles": []})
    pd.testing.assert_series_equal(
        pd.Series(answer["y"], name="y"), here["y"].reset_index(drop=True), rtol=1e-6
    )
