"""Write ``benchmarks/RESULTS.md`` from the JSON files in ``benchmarks/results/``.

Run after the benchmarks: ``python benchmarks/summarize.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(name: str) -> dict | None:
    path = HERE / "results" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _periodic(r: dict) -> list[str]:
    return [
        "## periodic (`benchmarks/periodic.py`)",
        f"Protocol: {r['protocol']}; {r['max_time_s']:.0f} s training budget "
        f"(fit took {r['fit_seconds']:.0f} s, {r['epochs']} epochs).",
        "",
        "| task | latent ODE | baseline | target |",
        "|---|---|---|---|",
        f"| interpolation MSE | {r['interpolation_mse']:.4f} | linear interp. "
        f"{r['baseline_linear_interpolation_mse']:.4f} | ≤ 0.004 |",
        f"| extrapolation MSE | {r['extrapolation_mse']:.4f} | last value "
        f"{r['baseline_last_value_extrapolation_mse']:.4f} | ≤ 0.010 |",
        "",
    ]


def _scaling(r: dict) -> list[str]:
    lines = [
        "## scaling (`benchmarks/scaling.py`)",
        f"Protocol: {r['protocol']}. Target: {r['target']}.",
        "",
        "| adjoint | batch | union of times | s/epoch shared | s/epoch different | ratio "
        "| NFE fwd shared / different | NFE bwd shared / different |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['adjoint']} | {row['batch_size']} | {row['union_size_different']} "
            f"| {row['seconds_per_epoch_shared']:.2f} | {row['seconds_per_epoch_different']:.2f} "
            f"| {row['time_ratio_different_over_shared']:.2f} "
            f"| {row['nfe_forward_per_batch_shared']:.0f} / "
            f"{row['nfe_forward_per_batch_different']:.0f} "
            f"| {row['nfe_backward_per_batch_shared']:.0f} / "
            f"{row['nfe_backward_per_batch_different']:.0f} |"
        )
    return [*lines, ""]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _dynamics(r: dict) -> list[str]:
    seeds = r.get("seeds", [r.get("seed", 0)])
    lines = [
        "## dynamics (`benchmarks/dynamics.py`)",
        f"Protocol: {r['protocol']}; at most {r['max_fit_seconds']:.0f} s of fitting per "
        f"system; seeds {', '.join(str(s) for s in seeds)} (medians; per-seed figures in the "
        "JSON).",
        "",
        "| system | field error | target | extrapolation | fit s | SINDy field error "
        "| SINDy extrapolation | extrapolation better than SINDy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, sr in r["systems"].items():
        nn, sindy = sr["neural_ode"], sr.get("sindy")
        target = sr.get("field_error_target")
        met = sr.get("field_error_target_met_seeds")
        target_cell = "–" if target is None else f"≤ {_pct(target)}"
        if met is not None:
            target_cell += f" (met on {met}/{len(seeds)} seeds)"
        better = sr.get("extrapolation_better_than_sindy_seeds")
        lines.append(
            f"| {name} | {_pct(nn['field_error'])} | {target_cell} "
            f"| {nn['extrapolation_error']:.3f} | {nn['fit_seconds']:.0f} "
            f"| {_pct(None if sindy is None else sindy['field_error'])} "
            f"| {'–' if sindy is None else format(sindy['extrapolation_error'], '.3f')} "
            f"| {'–' if better is None else f'{better}/{len(seeds)} seeds'} |"
        )
    return [*lines, ""]


def _generic(name: str, r: dict) -> list[str]:
    if name == "dynamics":
        return _dynamics(r)
    summary = r.get("summary", {})
    body = "\n".join(f"- {k}: {v}" for k, v in summary.items())
    return [f"## {name} (`benchmarks/{name}.py`)", body or "(see JSON)", ""]


def main() -> None:
    lines = [
        "# Benchmark results",
        "",
        "Machine: 2 shared CPU cores, `torch.set_num_threads(1)`; figures from one run each "
        "(medians within a run where stated). Regenerate with the commands in README.md, then "
        "`python benchmarks/summarize.py`.",
        "",
    ]
    for name, render in (("periodic", _periodic), ("scaling", _scaling)):
        r = _load(name)
        if r is not None:
            lines += render(r)
    for name in ("density", "posterior", "dynamics"):
        r = _load(name)
        if r is not None:
            lines += _generic(name, r)
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
