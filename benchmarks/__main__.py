"""Run the benchmarks: ``python -m benchmarks all --quick`` (about 10 minutes on 2 cores).

``python -m benchmarks list`` names them; ``python -m benchmarks NAME [NAME ...]`` runs
some; ``all`` runs every one. Each benchmark runs as its own process (one torch thread)
and writes its JSON; then ``summarize.py`` writes the Markdown table with the machine's
details. The full runs write to ``benchmarks/results/`` and ``benchmarks/RESULTS.md``
(hours: see each script); ``--quick`` runs shortened settings into
``benchmarks/results/quick/`` and ``benchmarks/results/quick/RESULTS.md``, so a smoke run
never overwrites the full figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Benchmark:
    """One script: its quick arguments, and the option that names its JSON output."""

    name: str
    quick: tuple[str, ...] = ()
    full: tuple[str, ...] = ()
    out_option: str = "--out"
    note: str = ""

    def command(self, quick: bool, results: Path) -> list[str]:
        args = self.quick if quick else self.full
        script = HERE / f"{self.name}.py"
        return [
            sys.executable,
            str(script),
            *args,
            self.out_option,
            str(results / f"{self.name}.json"),
        ]


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "periodic", ("--quick",), note="reference protocol, interpolation / extrapolation"
        ),
        Benchmark(
            "real",
            ("--quick", "--seconds", "20", "--sets", "pbcseq,remifentanil"),
            note="real irregular data against four baselines",
        ),
        Benchmark(
            "calibration",
            ("--sets", "remifentanil", "--epochs", "5"),
            ("--epochs", "100"),
            note="noise calibrations on the same trained weights (real data)",
        ),
        Benchmark(
            "scaling",
            ("--epochs", "2", "--n-series", "64", "--batch-sizes", "16", "64", "--adjoint", "off"),
            note="cost of per-series time grids",
        ),
        Benchmark("spans", ("--long-span", "100", "--epochs", "1"), note="one long series"),
        Benchmark(
            "density",
            ("--quick", "--sets", "two_moons", "pinwheel"),
            note="FFJORD against GMM and KDE",
        ),
        Benchmark(
            "density_defaults",
            ("--sets", "moons_0.05", "--methods", "ffjord_default", "gmm", "kde"),
            note="FFJORDDensity's defaults on issue 12's seven sets",
        ),
        Benchmark("posterior", ("--quick",), note="Gaussian against FFJORD posterior"),
        Benchmark(
            "anomaly",
            ("--quick", "--seconds", "20", "--sets", "periodic"),
            note="anomalous series: Latent ODE and FFJORD scores against IsolationForest, GMM",
        ),
        Benchmark(
            "dynamics",
            ("--quick", "--seeds", "0"),
            out_option="--output",
            note="recovering vector fields",
        ),
        Benchmark(
            "batch_predict",
            ("--series", "2000", "--files", "2"),
            out_option="--json",
            note="batch scoring memory",
        ),
        Benchmark("serving", ("--requests", "40"), note="mlflow models serve latency"),
        Benchmark("threads", ("--epochs", "1"), note="n_threads, quiet and beside a busy process"),
        Benchmark(
            "adaptive", ("--epochs", "1"), note="per-series adaptive steps against one per batch"
        ),
        Benchmark(
            "gpu",
            (
                "--device",
                "cpu",
                "--sections",
                "train",
                "predict",
                "--n-series",
                "1024",
                "--epochs",
                "2",
                "--predict-sizes",
                "1",
                "100",
            ),
            (
                "--device",
                "cpu",
                "--sections",
                "train",
                "predict",
                "density",
                "dynamics",
                "--batch-sizes",
                "256",
                "1024",
            ),
            note="CPU side of the device table (CUDA: bash benchmarks/run_gpu.sh)",
        ),
        Benchmark(
            "compile",
            ("--epochs", "4", "--repeats", "5"),
            note="torch.compile against eager (encoder loop, default fit)",
        ),
        Benchmark(
            "fused",
            ("--epochs", "4", "--repeats", "5", "--rounds", "1"),
            note="the fused training loops against step by step (encoder pass, default fit)",
        ),
        Benchmark(
            "memory",
            ("--lengths", "100", "1000", "--variants", "default", "low", "--repeats", "1"),
            note="peak memory of an epoch against series length",
        ),
    )
}


def run(names: list[str], quick: bool, results: Path) -> list[dict]:
    """Run ``names`` in order; return one record per benchmark (seconds, return code)."""
    results.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    records = []
    for name in names:
        bench = BENCHMARKS[name]
        command = bench.command(quick, results)
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run(command, env=env, cwd=HERE.parent, check=False)
        seconds = time.perf_counter() - start
        records.append({"name": name, "seconds": round(seconds, 1), "returncode": proc.returncode})
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        print(f"== {name}: {status} in {seconds:.0f} s", flush=True)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("names", nargs="+", help="'all', 'list', or benchmark names")
    parser.add_argument("--quick", action="store_true", help="shortened settings (~10 min in all)")
    parser.add_argument("--results", type=Path, default=None, help="where the JSON files go")
    args = parser.parse_args(argv)
    if args.names == ["list"]:
        for b in BENCHMARKS.values():
            print(f"{b.name:14s} {b.note}")
        return 0
    names = list(BENCHMARKS) if args.names == ["all"] else args.names
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)} or 'all'")
    results = args.results or (HERE / "results" / "quick" if args.quick else HERE / "results")
    records = run(names, args.quick, results)
    runs_file = results / "runs.json"
    if runs_file.is_file():  # keep the other benchmarks' last records, in the listed order
        earlier = {r["name"]: r for r in json.loads(runs_file.read_text()).get("runs", [])}
        earlier.update({r["name"]: r for r in records})
        records = [earlier[n] for n in BENCHMARKS if n in earlier]
    runs_file.write_text(json.dumps({"quick": args.quick, "runs": records}, indent=2) + "\n")
    summary = [sys.executable, str(HERE / "summarize.py"), "--results", str(results)]
    if args.quick or args.results is not None:
        summary += ["--out", str(results / "RESULTS.md")]
    subprocess.run(summary, check=True)
    failed = [r["name"] for r in records if r["returncode"] != 0]
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
