"""The public surface is explicit and stable."""

from __future__ import annotations

import subprocess
import sys
import types

import latentode


def test_public_names_equal_all():
    # submodules become attributes once imported (by other tests); they are not re-exports
    public = {
        name
        for name in dir(latentode)
        if not name.startswith("_") and not isinstance(getattr(latentode, name), types.ModuleType)
    }
    assert set(latentode.__all__) - {"__version__", "datasets"} == public
    assert {"LatentODEForecaster", "NeuralODEDynamics", "FFJORDDensity", "load"} <= public


def test_every_estimator_is_loadable_by_name():
    from latentode.estimators import ESTIMATORS

    for name in ("LatentODEForecaster", "NeuralODEDynamics", "FFJORDDensity"):
        assert ESTIMATORS[name].__name__ == name


def test_import_is_light():
    """Importing latentode pulls in neither mlflow nor pyspark."""
    code = (
        "import sys, latentode; "
        "print(any(m.split('.')[0] in ('mlflow', 'pyspark') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_error_and_warning_lives_in_exceptions():
    """Callers catch latentode's errors from one module; tracking re-exports the same classes."""
    from latentode import exceptions, tracking

    assert tracking.RegistryError is exceptions.RegistryError
    assert tracking.TrackingWarning is exceptions.TrackingWarning
    assert issubclass(exceptions.RegistryError, (exceptions.LatentODEError, LookupError))
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert issubclass(cls, (exceptions.LatentODEError, Warning)), name
        assert cls.__module__ == "latentode.exceptions", name
