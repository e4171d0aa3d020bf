from __future__ import annotations

import ast
from pathlib import Path

import latentode.datasets as datasets

FORBIDDEN = ("torch", "sklearn", "mlflow")


def test_public_names_are_pinned() -> None:
    assert sorted(datasets.__all__) == [
        "DynamicalSystem",
        "REAL_SETS",
        "RealDataset",
        "RealSet",
        "list_bundled",
        "load_bundled",
        "load_csv",
        "load_flights",
        "load_nafld",
        "load_pbcseq",
        "load_physionet2012",
        "load_remifentanil",
        "make_damped_pendulum",
        "make_linear_spiral",
        "make_lorenz",
        "make_lotka_volterra",
        "make_periodic",
        "make_spirals",
        "make_two_regime",
    ]
    public = {
        n
        for n, v in vars(datasets).items()
        if not n.startswith("_") and type(v).__name__ != "module"
    }
    assert public == set(datasets.__all__)


def test_reachable_as_latentode_datasets() -> None:
    from latentode import datasets as via_package

    assert via_package is datasets


def test_generators_import_no_torch_sklearn_or_mlflow() -> None:
    root = Path(datasets.__file__).parent
    bad = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                bad.append(f"{path.name}: print")
    assert bad == []


def test_every_public_function_has_a_numpydoc_docstring() -> None:
    for name in datasets.__all__:
        doc = getattr(datasets, name).__doc__ or ""
        assert doc.strip(), name
        if name.startswith(("make_", "load_")):
            assert "Parameters\n    ----------" in doc and "Returns\n    -------" in doc, name
