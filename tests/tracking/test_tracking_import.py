"""Importing latentode (and latentode.tracking) must not import MLflow or Spark."""

from __future__ import annotations

import subprocess
import sys


def test_import_latentode_does_not_import_mlflow() -> None:
    code = (
        "import sys, latentode, latentode.tracking, latentode.training\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'pyspark'))\n"
        "print(repr(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_public_names_pinned() -> None:
    import latentode.tracking as tracking

    assert sorted(tracking.__all__) == [
        "BatchReport",
        "ForecastParams",
        "MLflowCallback",
        "Promotion",
        "ROLE_COL",
        "RegistryError",
        "TrackingWarning",
        "autolog",
        "batch_predict",
        "latest_version",
        "load_estimator",
        "log_model",
        "make_payload",
        "model_uri",
        "pinned_requirements",
        "promote",
        "register",
        "score_spark",
        "set_alias",
    ]
    for name in tracking.__all__:
        assert hasattr(tracking, name)
