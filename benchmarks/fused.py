"""The fused training loops against the step-by-step ones (issue 15 item 5).

:mod:`latentode.nn._fused_odernn` runs the ODE-RNN encoder's loop, and
:mod:`latentode.nn._fused_euler` the decoder's Euler steps, as one autograd node each with
its backward pass written out. Two measurements, one torch thread on the CPU:

* ``encoder``: :class:`~latentode.nn.odernn.ODERNNEncoder` at the default sizes (hidden
  32, field 32 → 32 → 32, Euler step 0.5) on a batch of 100 series × 50 observations,
  forward and backward; both loops in one process, alternating in rounds, median
  milliseconds per pass over ``--repeats`` passes per round.
* ``fit``: ``LatentODEForecaster`` with its defaults on the periodic protocol (800 × 50
  observed points), ``--epochs`` epochs: no loop fused (``loop``), the encoder's only
  (``encoder``), both (``fused``, the default); each run in its own process, in
  ``--rounds`` alternating rounds; median seconds per epoch after the first two.

Run: ``python benchmarks/fused.py`` (about 3 minutes on 2 cores; ``--device cuda`` on a
GPU machine); writes ``benchmarks/results/fused.json`` (``fused_<device>.json`` elsewhere).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compile import periodic_fit  # the default fit on the periodic protocol

RESULTS = Path(__file__).resolve().parent / "results"
#: Fit variants: neither loop fused, the encoder's only, both (the default).
VARIANTS = ("loop", "encoder", "fused")


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def encoder(device: str, repeats: int, rounds: int) -> dict:
    import torch

    from latentode.batch import IrregularBatch
    from latentode.nn.odernn import ODERNNEncoder

    g = torch.Generator().manual_seed(1)
    n, k = 100, 50
    times = torch.sort(torch.rand(n, k, generator=g, dtype=torch.float64) * 5, 1).values
    batch = IrregularBatch(
        times.to(device),
        torch.randn(n, k, 1, generator=g).to(device),
        (torch.rand(n, k, 1, generator=g) > 0.2).float().to(device),
        torch.full((n,), k, device=device),
    )
    torch.manual_seed(0)
    enc = ODERNNEncoder(1, 32).to(device)
    found: dict[str, list[float]] = {v: [] for v in ("loop", "fused")}
    for _ in range(rounds):
        for variant in found:
            enc.fused = variant == "fused"
            passes = []
            for _ in range(repeats + 3):
                _sync(device)
                start = time.perf_counter()
                enc.zero_grad()
                enc(batch).square().sum().backward()
                _sync(device)
                passes.append(time.perf_counter() - start)
            found[variant].append(1000 * statistics.median(passes[3:]))
    return {v: {"ms_per_pass": statistics.median(ms), "rounds": ms} for v, ms in found.items()}


def fit(device: str, variant: str, epochs: int) -> dict:
    from latentode.nn import _fixed_steps, odernn

    odernn.FUSED = variant in ("encoder", "fused")
    _fixed_steps.FUSED = variant == "fused"
    est = periodic_fit(device, epochs)
    seconds = [float(h["seconds"]) for h in est.history_]
    return {
        "s_per_epoch": statistics.median(seconds[2:]),
        "train_loss": float(est.history_[-1]["train_loss"]),  # the same training, to rounding
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.child:
        print(json.dumps(fit(args.device, args.child, args.epochs)))
        return
    out: dict = {
        "device": args.device,
        "machine": platform.platform(),
        "torch": torch.__version__,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "rounds": args.rounds,
        "encoder": encoder(args.device, args.repeats, args.rounds),
    }
    print("encoder", out["encoder"], flush=True)
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--device",
                    args.device,
                    "--epochs",
                    str(args.epochs),
                    "--child",
                    variant,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[variant].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print("fit", variant, runs[variant][-1], flush=True)
    out["fit"] = {
        v: {"s_per_epoch": statistics.median(r["s_per_epoch"] for r in rows), "runs": rows}
        for v, rows in runs.items()
    }
    path = args.out or RESULTS / (
        "fused.json" if args.device == "cpu" else f"fused_{args.device}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
