"""Print latentode's requirements from pyproject.toml, one per line, without torch.

The Docker image installs these in a layer of their own, before the source is copied, so an
edit to the code does not reinstall every dependency (torch comes from its own index first):

    python docker/requirements.py mlflow > requirements.txt

Arguments are optional extras to include, separate or comma-separated (``mlflow,real``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def requirements(extras: list[str], pyproject: Path = PYPROJECT) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    unknown = sorted(set(extras) - set(optional))
    if unknown:
        raise SystemExit(f"unknown extra(s) {unknown}; pyproject.toml has {sorted(optional)}")
    lines = list(project["dependencies"])
    for extra in extras:
        lines += optional[extra]
    name = re.compile(r"^[A-Za-z0-9_.-]+")
    return [req for req in dict.fromkeys(lines) if _name(name, req) != "torch"]


def _name(pattern: re.Pattern[str], req: str) -> str:
    match = pattern.match(req.strip())
    if match is None:
        raise SystemExit(f"cannot read the requirement {req!r} in pyproject.toml")
    return match.group(0).lower()


if __name__ == "__main__":
    print("\n".join(requirements([e for a in sys.argv[1:] for e in a.split(",") if e])))
