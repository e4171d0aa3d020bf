"""``python -m benchmarks``: every listed benchmark takes the arguments the runner passes."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "benchmarks_main", ROOT / "benchmarks" / "__main__.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_accepts_its_quick_arguments_and_output_option(tmp_path: Path) -> None:
    runner = _runner()
    assert len(runner.BENCHMARKS) >= 9
    for bench in runner.BENCHMARKS.values():
        source = (ROOT / "benchmarks" / f"{bench.name}.py").read_text()
        command = bench.command(quick=True, results=tmp_path)
        options = [a for a in command[2:] if a.startswith("--")]
        assert bench.out_option in options
        for option in options:
            assert re.search(rf"add_argument\(\s*\"{re.escape(option)}\"", source), (
                bench.name,
                option,
            )
        assert command[-1] == str(tmp_path / f"{bench.name}.json")


def test_unknown_names_are_refused_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _runner().main(["no_such_benchmark"])
    assert info.value.code == 2
    assert "periodic" in capsys.readouterr().err


def test_summarize_writes_a_table_with_the_machine_from_a_results_folder(tmp_path: Path) -> None:
    spans = {
        "long_span": 100.0,
        "epochs": 1,
        "variants": {"shipped": {"s_per_epoch": 1.5, "peak_rss_mb": 500.0}},
    }
    (tmp_path / "spans.json").write_text(json.dumps(spans))
    (tmp_path / "runs.json").write_text(
        json.dumps({"quick": True, "runs": [{"name": "spans", "seconds": 12.0, "returncode": 0}]})
    )
    out = tmp_path / "RESULTS.md"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "summarize.py"),
            "--results",
            str(tmp_path),
            "--out",
            str(out),
        ],
        check=True,
    )
    text = out.read_text()
    assert "| shipped | 1.50 | 500 |" in text
    assert "CPU cores" in text and "Run times: spans 12 s" in text
