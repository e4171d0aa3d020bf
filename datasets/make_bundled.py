"""Regenerate the data sets shipped in ``latentode/datasets/data/``.

Usage (from the repository root)::

    python datasets/make_bundled.py            # rewrite every bundled file
    python datasets/make_bundled.py --check    # exit 1 if a shipped file differs

The output is byte-for-byte deterministic (fixed seeds, fixed float format, gzip with a
zero timestamp). ``tests/datasets/test_datasets_bundled.py`` checks that the shipped
files equal what this script builds.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from latentode.datasets import make_periodic

DATA_DIR = Path(__file__).resolve().parents[1] / "latentode" / "datasets" / "data"
FLOAT_FORMAT = "%.10g"
PERIODIC_SEED = 20190604  # arXiv date of the Latent ODE paper
SENSORS_SEED = 20240101


def build_periodic_irregular() -> pd.DataFrame:
    """300 periodic-toy series, one irregular grid each, half of the 100 points kept."""
    return make_periodic(
        n_series=300,
        n_points=100,
        shared_grid=False,
        observed_fraction=0.5,
        random_state=PERIODIC_SEED,
    )  # type: ignore[return-value]


def build_sensors_irregular(n_series: int = 200) -> pd.DataFrame:
    """Two-channel damped oscillations at bursty datetimes, 20 % of the values missing.

    Per series: 12 or more rows (Poisson(40)); gaps of at least one minute, 80 % of them
    short (exponential, mean 3 h) and 20 % long (exponential, mean 36 h); start uniform in
    the first 30 days of 2024; angular frequency U(0.8, 2.0) rad/day, decay U(0.02, 0.1)
    per day, amplitude U(1, 3), phase U(0, 2π); channel a = 20 + N(0, 2) + damped cosine,
    channel b = 50 + N(0, 5) + 2 × damped sine; Gaussian noise 5 % of the amplitude.
    Each row misses sensor_a with probability 0.2 and sensor_b with probability 0.2,
    never both.
    """
    rng = np.random.default_rng(SENSORS_SEED)
    base = pd.Timestamp("2024-01-01")
    frames = []
    for i in range(n_series):
        n = max(12, int(rng.poisson(40)))
        short = rng.random(n - 1) < 0.8
        gaps_h = np.where(short, rng.exponential(3.0, n - 1), rng.exponential(36.0, n - 1))
        hours = np.concatenate([[0.0], np.cumsum(gaps_h + 1.0 / 60.0)])
        start_s = rng.uniform(0.0, 30.0 * 86_400.0)
        seconds = np.round(start_s + hours * 3600.0).astype(np.int64)
        t = (seconds - seconds[0]) / 86_400.0
        omega, decay = rng.uniform(0.8, 2.0), rng.uniform(0.02, 0.1)
        amp, phase = rng.uniform(1.0, 3.0), rng.uniform(0.0, 2.0 * np.pi)
        envelope = amp * np.exp(-decay * t)
        a = 20.0 + 2.0 * rng.standard_normal() + envelope * np.cos(omega * t + phase)
        b = 50.0 + 5.0 * rng.standard_normal() + 2.0 * envelope * np.sin(omega * t + phase)
        a = a + 0.05 * amp * rng.standard_normal(n)
        b = b + 0.05 * amp * rng.standard_normal(n)
        u = rng.random(n)
        a[u < 0.2] = np.nan
        b[(u >= 0.2) & (u < 0.4)] = np.nan
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{i:04d}",
                    "ds": base + pd.to_timedelta(seconds, unit="s"),
                    "sensor_a": a,
                    "sensor_b": b,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


BUILDERS: dict[str, Callable[[], pd.DataFrame]] = {
    "periodic_irregular": build_periodic_irregular,
    "sensors_irregular": build_sensors_irregular,
}


def to_csv_gz(df: pd.DataFrame) -> bytes:
    """Deterministic gzip-compressed CSV bytes."""
    text = df.to_csv(index=False, float_format=FLOAT_FORMAT, date_format="%Y-%m-%dT%H:%M:%S")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as fh:
        fh.write(text.encode("utf-8"))
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    status = 0
    for name, build in BUILDERS.items():
        path = DATA_DIR / f"{name}.csv.gz"
        payload = to_csv_gz(build())
        if args.check:
            same = path.exists() and path.read_bytes() == payload
            print(f"{path.name}: {'up to date' if same else 'DIFFERS'}")
            status |= 0 if same else 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(payload)
            print(f"wrote {path} ({len(payload) / 1024:.0f} KiB)")
    return status


if __name__ == "__main__":
    sys.exit(main())
