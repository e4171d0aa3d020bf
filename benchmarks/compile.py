"""Does ``torch.compile`` pay for the Latent ODE's small, looped modules? (issue 15 item 5)

Two measurements, each variant in its own process (one torch thread on the CPU):

* ``step_loop``: the ODE-RNN encoder's loop body at the default sizes: one Euler step of
  the hidden ODE (:class:`~latentode.nn.vector_field.MLPVectorField`, 32 → 32 → 32), a
  ``GRUCell`` update and the mask's ``where``; 50 steps on a batch of 100, forward and
  backward, eager against the whole step compiled (``torch.compile(step)``, static shapes).
  Median milliseconds per loop over ``--repeats`` loops after warm-up, and the seconds the
  first compiled loop took.
* ``fit``: ``LatentODEForecaster`` with its defaults on the periodic protocol (800 × 50
  observed points), ``--epochs`` epochs, eager against the vector fields' and the GRU
  cell's ``forward`` compiled (``dynamic=True``); median seconds per epoch after the first
  two, and the first epoch (which pays for compilation).

Run: ``python benchmarks/compile.py`` (about 3 minutes on 2 cores; ``--device cuda`` on a
GPU machine); writes ``benchmarks/results/compile.json``.
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
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def step_loop(device: str, compiled: bool, repeats: int) -> dict:
    import torch
    from torch import nn

    from latentode.nn.vector_field import MLPVectorField

    torch.manual_seed(0)
    batch, hidden, n_steps = 100, 32, 50
    field = MLPVectorField(hidden, 32, 1).to(device)
    cell = nn.GRUCell(2, hidden).to(device)

    def step(h: torch.Tensor, dt: torch.Tensor, x: torch.Tensor, valid: torch.Tensor):
        h = h + dt * field(dt, h)
        return torch.where(valid, cell(x, h), h)

    fn = torch.compile(step, dynamic=False) if compiled else step
    xs = torch.randn(n_steps, batch, 2, device=device)
    dts = torch.rand(n_steps, batch, 1, device=device)
    valid = torch.rand(n_steps, batch, 1, device=device) > 0.1

    def loop() -> float:
        _sync(device)
        start = time.perf_counter()
        h = torch.zeros(batch, hidden, device=device)
        for j in range(n_steps):
            h = fn(h, dts[j], xs[j], valid[j])
        h.square().sum().backward()
        _sync(device)
        return time.perf_counter() - start

    first = loop()
    for _ in range(2):
        loop()
    times = [loop() for _ in range(repeats)]
    return {"ms_per_loop": 1000 * statistics.median(times), "first_loop_s": first}


def fit(device: str, compiled: bool, epochs: int) -> dict:
    import torch
    from torch import nn

    from latentode.nn import vector_field

    if compiled:
        vector_field.MLPVectorField.forward = torch.compile(  # type: ignore[method-assign]
            vector_field.MLPVectorField.forward, dynamic=True
        )
        nn.GRUCell.forward = torch.compile(nn.GRUCell.forward, dynamic=True)  # type: ignore[method-assign]
    est = periodic_fit(device, epochs)
    seconds = [float(h["seconds"]) for h in est.history_]
    return {"s_per_epoch": statistics.median(seconds[2:]), "first_epoch_s": seconds[0]}


def periodic_fit(device: str, epochs: int) -> Any:
    """``LatentODEForecaster`` with its defaults, ``epochs`` epochs without early stopping,
    on 800 periodic series of 100 points, half of each observed (also ``fused.py``'s)."""
    import numpy as np

    from latentode import LatentODEForecaster
    from latentode.datasets import make_periodic

    df = make_periodic(n_series=800, n_points=100, random_state=0)
    rng = np.random.default_rng(0)
    keep = np.zeros(len(df), dtype=bool)
    for idx in df.groupby("unique_id", sort=False).indices.values():
        keep[rng.choice(idx, size=len(idx) // 2, replace=False)] = True
    est = LatentODEForecaster(
        max_epochs=epochs, early_stopping=False, device=device, n_threads=1, random_state=0
    )
    return est.fit(df[keep])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", nargs=2, metavar=("SECTION", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import torch

        torch.set_num_threads(1)
        section, variant = args.child
        compiled = variant == "compiled"
        row = (
            step_loop(args.device, compiled, args.repeats)
            if section == "step_loop"
            else fit(args.device, compiled, args.epochs)
        )
        print(json.dumps(row))
        return
    import torch

    out: dict = {
        "device": args.device,
        "machine": platform.platform(),
        "torch": torch.__version__,
        "epochs": args.epochs,
        "repeats": args.repeats,
    }
    for section in ("step_loop", "fit"):
        out[section] = {}
        for variant in ("eager", "compiled"):
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--device",
                    args.device,
                    "--epochs",
                    str(args.epochs),
                    "--repeats",
                    str(args.repeats),
                    "--child",
                    section,
                    variant,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            out[section][variant] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(section, variant, out[section][variant], flush=True)
    path = args.out or RESULTS / f"compile_{args.device}.json"
    if args.out is None and args.device == "cpu":
        path = RESULTS / "compile.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
