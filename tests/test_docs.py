"""The Sphinx site builds with warnings as errors, and the CLI page covers every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_parser")

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    cmd += ["-d", str(out / ".doctrees"), str(DOCS), str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return out


def test_docs_build_without_warnings(site: Path) -> None:
    for page in ("index", "data_format", "choosing_settings", "mlflow", "cli", "api"):
        assert (site / f"{page}.html").is_file(), page


def test_cli_page_documents_every_subcommand_and_option(site: Path) -> None:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from cli_reference import subcommands
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    from latentode.cli import build_parser

    page = (site / "cli.html").read_text(encoding="utf-8")
    commands = subcommands(build_parser())
    assert commands, "build_parser() has no subcommands"
    for name, parser in commands.items():
        assert f'id="cli-{name}"' in page, f"no section for 'latentode {name}'"
        for action in parser._actions:
            for option in action.option_strings:
                assert option in page, f"'latentode {name} {option}' is not documented"


def test_api_page_documents_the_public_names(site: Path) -> None:
    import latentode.baselines
    import latentode.evaluation
    import latentode.tracking
    import latentode.training

    page = (site / "api.html").read_text(encoding="utf-8")
    modules = [latentode, latentode.baselines, latentode.evaluation, latentode.datasets]
    modules += [latentode.tracking, latentode.training]
    missing = [
        f"{module.__name__}.{name}"
        for module in modules
        for name in module.__all__
        if name not in ("__version__", "datasets") and f'id="{module.__name__}.{name}"' not in page
    ]
    assert not missing, f"public names without an entry on the API page: {missing}"
