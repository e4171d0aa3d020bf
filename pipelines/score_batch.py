"""Score a parquet data set of many series with a registered model on Spark.

Usage::

    python pipelines/score_batch.py --data demo/requests.parquet --output demo/scores \
        --model-uri models:/latentode-forecaster@champion

The input is the model's request format (``unique_id, ds, <features>, role``; see
the README's MLflow section); rows are grouped by series
(``groupBy("unique_id").applyInPandas``), so every forecast sees its series' whole
history. Writes parquet to ``--output``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from latentode.tracking import score_spark

logger = logging.getLogger("latentode.pipelines.score_batch")


def main(argv: list[str] | None = None) -> str:
    """Score and write; return the output path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="parquet request frame")
    parser.add_argument("--output", required=True, help="parquet directory to write")
    parser.add_argument("--model-uri", default="models:/latentode-forecaster@champion")
    parser.add_argument("--quantiles", default=None, help="comma-separated levels")
    parser.add_argument("--coverage", type=float, default=0.0, help="0: no interval")
    parser.add_argument("--horizon", type=float, default=0.0, help="0: use the query rows")
    parser.add_argument("--n-points", type=float, default=10)
    parser.add_argument("--master", default=None, help="Spark master, e.g. local[*]")
    args = parser.parse_args(argv)

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("latentode-score")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    params: dict = {}  # only what was asked for: the model's defaults otherwise
    if args.quantiles is not None:
        params["quantiles"] = [float(q) for q in args.quantiles.split(",") if q.strip()]
    if args.coverage > 0:
        params["coverage"] = args.coverage
    if args.horizon > 0:
        params.update(horizon=args.horizon, n_points=int(args.n_points))
    frame = spark.read.parquet(args.data)
    scored = score_spark(frame, args.model_uri, params=params)
    scored.write.mode("overwrite").parquet(args.output)
    logger.info("scored %s with %s into %s", args.data, args.model_uri, args.output)
    return args.output


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    main()
