from __future__ import annotations

import ast
from pathlib import Path

import latentode.data as data

FORBIDDEN = ("torch.nn", "sklearn", "mlflow")
ALLOWED = ("sklearn.exceptions",)


def test_public_names_are_pinned() -> None:
    assert sorted(data.__all__) == sorted(
        [
            "QUERY_IDX_COL",
            "SERIES_IDX_COL",
            "TIME_UNITS",
            "CovariateEncoder",
            "CovariatePath",
            "FeatureScaler",
            "FrameLibrary",
            "Interval",
            "IrregularBatch",
            "IrregularDataset",
            "LongFrameEncoder",
            "LongFrameSpec",
            "Series",
            "StaticEncoder",
            "TimeEncoder",
            "check_levels",
            "collate",
            "drop_columns",
            "even_times",
            "frame_library",
            "from_pandas",
            "intervals",
            "merge_columns",
            "to_pandas",
        ]
    )
    for name in data.__all__:
        assert getattr(data, name) is not None
    public = {n for n in vars(data) if not n.startswith("_") and not _is_submodule(n)}
    assert public == set(data.__all__)


def _is_submodule(name: str) -> bool:
    return type(getattr(data, name)).__name__ == "module"


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_data_layer_imports_no_nn_estimators_or_mlflow() -> None:
    root = Path(data.__file__).parent
    offending = [
        f"{path.name}: {name}"
        for path in sorted(root.glob("*.py"))
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
        and not any(name == a or name.startswith(a + ".") for a in ALLOWED)
    ]
    assert offending == []


def test_no_print_in_the_data_layer() -> None:
    root = Path(data.__file__).parent
    calls = [
        path.name
        for path in root.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
    ]
    assert calls == []
