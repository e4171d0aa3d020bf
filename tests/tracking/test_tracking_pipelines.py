"""The scripts of pipelines/ end to end: demo data → train → promote → score on Spark."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"pipelines_{name}", PIPELINES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mlproject_entry_points_name_existing_scripts() -> None:
    import yaml

    project = yaml.safe_load((PIPELINES / "MLproject").read_text())
    from latentode.cli import build_parser

    entries = project["entry_points"]
    assert set(entries) == {"demo_data", "train", "promote", "score", "evaluate", "batch_predict"}
    for name, entry in entries.items():
        params = entry.get("parameters", {})
        for param in params:
            assert "{" + param + "}" in entry["command"], (name, param)
        program, *argv = entry["command"].split()
        if program == "latentode":  # the CLI must accept the command with its defaults
            values = {
                k: str(v["default"]) if isinstance(v, dict) and "default" in v else "x"
                for k, v in params.items()
            }
            args = build_parser().parse_args([a.format(**values) for a in argv])
            assert args.command == argv[0], name
        else:
            assert program == "python" and (PIPELINES / argv[0]).is_file(), (name, argv[0])


@pytest.mark.slow
def test_pipeline_scripts_end_to_end(
    tracking_uri: str, spark: Any, tmp_path: Path, unique_name: Any, experiment: str
) -> None:
    import mlflow

    out = _script("make_demo_data").main(["--output", str(tmp_path / "demo"), "--n-series", "24"])
    name = unique_name("pipeline")
    common = [
        "--data",
        str(out / "train.parquet"),
        "--model-name",
        name,
        "--method",
        "rk4",
        "--latent-dim",
        "2",
    ]
    train = _script("train")
    first = train.main([*common, "--max-epochs", "1"])
    assert first["version"] == "1" and first["promoted"]
    second = train.main([*common, "--max-epochs", "2", "--promote", "false"])
    outcome = _script("promote").main(["--model-name", name])
    assert outcome.version == second["version"] == "2"
    champion = mlflow.MlflowClient().get_model_version_by_alias(name, "champion")
    assert str(champion.version) == ("2" if outcome.promoted else "1")

    scores = tmp_path / "scores"
    _script("score_batch").main(
        [
            "--data",
            str(out / "requests.parquet"),
            "--output",
            str(scores),
            "--model-uri",
            f"models:/{name}@champion",
            "--quantiles",
            "0.2,0.8",
        ]
    )
    result = pd.read_parquet(scores)
    requests = pd.read_parquet(out / "requests.parquet")
    assert len(result) == int((requests["role"] == "query").sum())
    assert list(result.columns) == ["unique_id", "ds", "y", "y_q0.2", "y_q0.8"]
    assert result[["y", "y_q0.2", "y_q0.8"]].notna().all().all()
