#!/usr/bin/env bash
# Extra setup for the MLflow / Spark integration tests (tests/tracking). Source it from
# .ci/run after activating the virtual environment and installing ".[dev,mlflow,spark]":
#
#     . .ci/mlflow_extra.sh
#
# - checks that Java (for the local Spark session) is there, with a clear message if not;
# - makes a missing Java / pyspark a test failure instead of a skip
#   (LATENTODE_STRICT_INTEGRATION=1, read by tests/tracking/conftest.py);
# - runs Spark's Python workers with this environment's interpreter.
# The serve test finds `mlflow` and `uvicorn` next to sys.executable by itself.

if ! command -v java > /dev/null 2>&1; then
    echo "mlflow_extra: 'java' not found; the Spark tests need Java 17 (apt-get install openjdk-17-jre-headless)" >&2
    return 1 2> /dev/null || exit 1
fi
java -version 2>&1 | head -1 | sed 's/^/mlflow_extra: /'
export LATENTODE_STRICT_INTEGRATION=1
PYSPARK_PYTHON="$(command -v python)"
export PYSPARK_PYTHON
export PYSPARK_DRIVER_PYTHON="$PYSPARK_PYTHON"
