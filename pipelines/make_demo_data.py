"""Write a demo training set and a scoring request (parquet) from ``latentode.datasets``.

Usage::

    python pipelines/make_demo_data.py --output demo --n-series 300

writes ``demo/train.parquet`` (history to fit on) and ``demo/requests.parquet`` (for each
series: its rows up to t = 4 as ``role="history"`` and four ``role="query"`` rows after).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from latentode.datasets import make_periodic
from latentode.tracking import make_payload

logger = logging.getLogger("latentode.pipelines.demo_data")

CUTOFF = 4.0


def main(argv: list[str] | None = None) -> Path:
    """Write the demo files; return the output directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="demo", help="directory to write (created)")
    parser.add_argument("--n-series", type=float, default=300, help="number of series")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    frame = make_periodic(
        n_series=int(args.n_series),
        n_points=40,
        observed_fraction=0.5,
        shared_grid=False,
        random_state=args.random_state,
    )
    frame.to_parquet(out / "train.parquet", index=False)

    history = frame[frame["ds"] <= CUTOFF]
    ids = history["unique_id"].unique()
    steps = np.array([0.25, 0.5, 0.75, 1.0])
    queries = pd.DataFrame(
        {"unique_id": np.repeat(ids, len(steps)), "ds": np.tile(CUTOFF + steps, len(ids))}
    )
    make_payload(history, queries).to_parquet(out / "requests.parquet", index=False)
    logger.info("wrote %s/train.parquet and %s/requests.parquet", out, out)
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    main()
