"""Promote a registered model version to ``champion`` if its validation metric is better.

Usage::

    python pipelines/promote.py --model-name latentode-forecaster --version 3

Compares the candidate's ``--metric`` (default ``final_val_loss``, lower is better) with the
current champion's; moves ``champion`` to the candidate only when it is better by more than
``--min-delta``, otherwise points ``challenger`` at it. ``--version latest`` takes the
newest version.
"""

from __future__ import annotations

import argparse
import logging

from latentode.tracking import Promotion, latest_version, promote

logger = logging.getLogger("latentode.pipelines.promote")


def main(argv: list[str] | None = None) -> Promotion:
    """Run the promotion; return its outcome."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-name", default="latentode-forecaster")
    parser.add_argument("--version", default="latest")
    parser.add_argument("--metric", default="final_val_loss")
    parser.add_argument("--greater-is-better", action="store_true")
    parser.add_argument("--min-delta", type=float, default=0.0)
    args = parser.parse_args(argv)

    version = args.version
    if version == "latest":
        version = latest_version(args.model_name)
    result = promote(
        args.model_name,
        version,
        metric=args.metric,
        greater_is_better=args.greater_is_better,
        min_delta=args.min_delta,
    )
    logger.info("%s version %s: %s", args.model_name, version, result.reason)
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    main()
