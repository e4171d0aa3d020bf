"""RELIABILITY.md names a test for every bad input and fault; each named test must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _rows(section: str) -> list[str]:
    text = (ROOT / "RELIABILITY.md").read_text()
    body = text.split(f"## {section}")[1].split("\n## ")[0]
    return [line for line in body.splitlines() if line.startswith("| ") and "`tests/" in line]


def test_every_named_test_exists():
    text = (ROOT / "RELIABILITY.md").read_text()
    references = REFERENCE.findall(text)
    assert len(references) >= 50
    missing = [
        f"{path}::{name}"
        for path, name in references
        if not (ROOT / path).is_file()
        or not re.search(rf"^\s*def {name}\(", (ROOT / path).read_text(), re.MULTILINE)
    ]
    assert not missing, f"RELIABILITY.md names tests that do not exist: {missing}"


def test_at_least_forty_kinds_of_bad_input_are_listed():
    assert len(_rows("Bad input → error")) >= 40
    assert len(_rows("Faults survived")) >= 5
