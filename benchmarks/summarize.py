"""Write ``benchmarks/RESULTS.md`` from the JSON files in ``benchmarks/results/``.

Run after the benchmarks: ``python benchmarks/summarize.py``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

HERE = Path(__file__).resolve().parent
_RESULTS = [HERE / "results"]


def _load(name: str) -> dict | None:
    path = _RESULTS[0] / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _periodic(r: dict) -> list[str]:
    return [
        "## periodic (`benchmarks/periodic.py`)",
        f"Protocol: {r['protocol']}; {r['max_time_s']:.0f} s training budget "
        f"(fit took {r['fit_seconds']:.0f} s, {r['epochs']} epochs).",
        "",
        "| task | latent ODE | baseline | target |",
        "|---|---|---|---|",
        f"| interpolation MSE, all points (reference protocol) | {r['interpolation_mse']:.4f} "
        f"| linear interp. {r['baseline_linear_interpolation_mse']:.4f} | ≤ 0.004 |",
        f"| interpolation MSE, hidden points only | {r['interpolation_mse_hidden']:.4f} "
        f"| linear interp. {r['baseline_linear_interpolation_mse_hidden']:.4f} | — |",
        f"| extrapolation MSE | {r['extrapolation_mse']:.4f} | last value "
        f"{r['baseline_last_value_extrapolation_mse']:.4f} | ≤ 0.010 |",
        "",
    ]


def _periodic_defaults(_: dict) -> list[str]:
    """The defaults on the periodic protocol: this default decoder and the one before."""
    lines = [
        "## periodic with the defaults (`benchmarks/periodic.py --defaults`)",
        "Protocol: as above, `LatentODEForecaster(max_time=240, random_state=0)` (seed 1: "
        "`random_state=1` and the data of seed 1). `_fused_seed1` is this release's defaults "
        "with the fused training loops (`benchmarks/fused.py`: 1.5× the epoch rate), alone "
        "on the machine; seed 0 of the same code ran beside the reference code "
        "(`reference_run4.json`: 604 epochs, interpolation 0.0003, extrapolation 0.0083). "
        "The `_batch100` files are the defaults before it "
        "(batch 100, patience='auto' counting 1,000 optimiser steps); `_batch200` "
        "and `_steps1000` (batch 50) the same rule at other batch sizes; these ran beside "
        "other benchmarks (fewer epochs in 240 s than alone). The others counted 400 steps. "
        "`_encoder_step05` / `_encoder_step01`: the defaults with `encoder_step_size` 0.5 (the "
        "default now) and 0.1 (the step the encoder took before), run side by side; "
        "`_encoder_odernn` / `_encoder_gru`: the defaults against `encoder='gru'` (20 % "
        "faster epochs, the same scores on the four real sets: `real_encoder.json`), run side "
        "by side. The "
        "dopri5 file ran beside an euler run of the "
        "code before Euler read its queries off the grid (171 epochs, 0.0007 / 0.028), and "
        "with `max_epochs=200` the current code stopped at 200 epochs in 174 s "
        "(0.0007 / 0.024).",
        "",
        "| file | encoder | method | batch | encoder step | patience (auto: steps) "
        "| epochs (best) | fit s | interpolation MSE | extrapolation MSE |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in (
        "periodic_defaults_fused_seed1",
        "periodic_defaults_encoder_odernn",
        "periodic_defaults_encoder_gru",
        "periodic_defaults_encoder_step05",
        "periodic_defaults_encoder_step01",
        "periodic_defaults_euler_batch100",
        "periodic_defaults_euler_batch200",
        "periodic_defaults_euler_seed1_batch100",
        "periodic_defaults_euler_steps1000",
        "periodic_defaults_euler_seed1_steps1000",
        "periodic_defaults_euler",
        "periodic_defaults_euler_seed1",
        "periodic_defaults_euler_seed1_patience100",
        "periodic_defaults",
    ):
        r = _load(name)
        if r is not None:
            patience = r["params"]["patience"]
            if patience == "auto":  # files from before the key: the 400-step rule
                patience = f"auto: {r.get('auto_patience_steps', 400)}"
            # files from before the parameter: the encoder stepped with step_size
            encoder_step = r["params"].get("encoder_step_size", r["params"]["step_size"])
            lines.append(
                f"| {name}.json | {r['params']['encoder']} | {r['params']['method']} "
                f"| {r['params']['batch_size']} "
                f"| {encoder_step} | {patience} "
                f"| {r['epochs']} ({r['best_epoch']}) "
                f"| {r['fit_seconds']:.0f} | {r['interpolation_mse']:.4f} "
                f"| {r['extrapolation_mse']:.4f} |"
            )
    return [*lines, "", "Targets: ≤ 0.004 / ≤ 0.010 with the defaults.", ""]


def _reference(r: dict, title: str = "side by side with the reference code") -> list[str]:
    """Side by side with the reference code (``benchmarks/reference.py``)."""
    ref, ours = r["reference"], r["ours"]
    ratio = r.get("epoch_ratio")
    return [
        f"## {title} (`benchmarks/reference.py`)",
        f"Protocol: {r['protocol']}. Issue 15's target: our epoch ≥ "
        f"{r.get('target_ratio', 10):g}× faster than the reference's, with the defaults. "
        "Command: `python benchmarks/reference.py --reference PATH` (a clone of "
        "github.com/YuliaRubanova/latent_ode).",
        "",
        "| program | epochs | median s / epoch | CPU s | test MSE |",
        "|---|---|---|---|---|",
        f"| reference ({ref['mode']}) | {ref['epochs']} | {ref['median_epoch_s']:.2f} "
        f"| {ref['cpu_s']:.0f} | {ref['last_test_mse']} (its last epoch's) |",
        f"| latentode defaults | {ours['epochs']} | {ours['median_epoch_s']:.2f} "
        f"| {ours['cpu_s']:.0f} | interpolation {ours['interpolation_mse']:.4f}, "
        f"extrapolation {ours['extrapolation_mse']:.4f} |",
        "",
        f"Epoch ratio: {ratio:.1f}× (target ≥ {r.get('target_ratio', 10):g}×)."
        if ratio
        else "Epoch ratio: not measured.",
        "",
    ]


def _scaling(r: dict) -> list[str]:
    lines = [
        "## scaling (`benchmarks/scaling.py`)",
        f"Protocol: {r['protocol']}. Target: {r['target']}.",
        "",
        "| method | adjoint | batch | union of times | s/epoch shared | s/epoch different "
        "| ratio | NFE fwd shared / different | NFE bwd shared / different |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row.get('method', 'dopri5')} | {row['adjoint']} | {row['batch_size']} "
            f"| {row['union_size_different']} "
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


def _nll(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _density(r: dict) -> list[str]:
    s, speed = r["summary"], r["speed"]["ffjord"]
    met = "met" if s["eight_gaussians_target_met"] else "**not met**"
    wins = "met" if s["wins_target_met"] else "**not met**"
    lines = [
        "## density (`benchmarks/density.py`)",
        f"Held-out mean NLL (nats per point, lower is better) on {r['n_test']:,} test points "
        f"after training on {r['n_train']:,}. Quality run: {s['quality_train_seconds']:.0f} s "
        "of FFJORD training per set.",
        "",
        "| set | FFJORD (quality) | GMM (BIC) | KDE (CV) | FFJORD beats both "
        "| generating density |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in r["datasets"].items():
        f, g, k = row["ffjord"], row["gmm_bic"], row["kde_cv"]
        lines.append(
            f"| {name} | {f['test_nll']:.3f} ({f['fit_seconds']:.0f} s, {f['epochs']} epochs) "
            f"| {g['test_nll']:.3f} ({g['n_components']} comp., {g['fit_seconds']:.0f} s) "
            f"| {k['test_nll']:.3f} (bw {k['bandwidth']:.3f}, {k['fit_seconds']:.0f} s) "
            f"| {'yes' if row['ffjord_beats_both'] else 'no'} "
            f"| {_nll(row.get('true_density_nll'))} |"
        )
    return [
        *lines,
        "",
        f"FFJORD beats both on {s['ffjord_wins']} of 4 sets (target ≥ {s['target_wins']}: "
        f"{wins}). Speed run (defaults) on 8 Gaussians: test NLL {speed['test_nll']:.3f} in "
        f"{speed['fit_seconds']:.0f} s (target {s['eight_gaussians_target']}: {met}).",
        "",
    ]


def _density_ablation(r: dict) -> list[str]:
    lines = [
        "### two moons: quality-run variants (`benchmarks/density_ablation.py`)",
        r.get("note", ""),
        "",
        "| variant | epochs | train NLL (last epoch) | test NLL | test NLL, EMA 0.999 |",
        "|---|---|---|---|---|",
    ]
    for row in sorted(r["runs"], key=lambda row: row["test_nll"]):
        ema = "–" if row.get("test_nll_ema") is None else f"{row['test_nll_ema']:.4f}"
        lines.append(
            f"| {row['variant']} | {row['epochs']} | {row['train_nll_last_epoch']:.4f} "
            f"| {row['test_nll']:.4f} | {ema} |"
        )
    return [*lines, ""]


BASELINES = ("last_value", "linear", "gp", "gradient_boosting")


def _real(r: dict, title: str = "Real irregular data") -> list[str]:
    meta = r.get("meta", {})
    lines = [
        f"## {title} (`benchmarks/real.py`)",
        "",
        f"{'Quick subsamples' if meta.get('quick') else 'Full sets'}, Latent ODE budget "
        f"{meta.get('seconds', 0):g} s per set; 70 / 30 series split (seed "
        f"{meta.get('seed', 0)}); scores in "
        "train-standardised units pooled over held-out values (lower is better, coverage "
        "of the 80 % interval should be 0.80). † / ‡ mark the best baseline by CRPS in "
        "extrapolation / interpolation; **bold** the best method of each column.",
        "",
    ]
    if meta.get("note"):
        lines += [f"Note: {meta['note']}", ""]
    metrics = ("mse", "mae", "crps", "coverage")
    for name, s in r.get("sets", {}).items():
        tasks = s["tasks"]
        lines += [
            f"### {name} ({s['n_series']} series, {s['n_rows']} rows; scored: "
            f"{', '.join(s['scored'])})",
            "",
            "| method | "
            + " | ".join(f"{t[:6]}. {m}" for t in tasks for m in metrics)
            + " | fit s |",
            "|---|" + "---|" * (len(tasks) * len(metrics) + 1),
        ]
        best_base = {
            t: min((m for m in BASELINES if m in tasks[t]), key=lambda m: tasks[t][m]["crps"])
            for t in tasks
        }
        best = {
            (t, m): min(
                tasks[t].values(), key=lambda v: abs(v[m] - 0.8) if m == "coverage" else v[m]
            )[m]
            for t in tasks
            for m in metrics
        }
        for method in next(iter(tasks.values())):
            cells = []
            for t in tasks:
                v = tasks[t][method]
                for m in metrics:
                    cell = f"{v[m]:.3f}"
                    cells.append(f"**{cell}**" if v[m] == best[(t, m)] else cell)
            marks = ("†", "‡")  # best baseline of the first / second task
            star = "".join(mk for mk, t in zip(marks, tasks) if best_base[t] == method)
            fit_s = next(iter(tasks.values()))[method]["fit_s"]
            lines.append(f"| {method}{star} | " + " | ".join(cells) + f" | {fit_s:.1f} |")
        epochs = s.get("epochs") or (
            {"latent_ode": s["latent_ode_epochs"]} if "latent_ode_epochs" in s else {}
        )
        if epochs:
            lines.append("\nEpochs: " + ", ".join(f"{k} {v}" for k, v in epochs.items()) + ".")
        lines.append("")
    return lines


def _batch_predict(r: dict) -> list[str]:
    s = r["summary"]
    lines = [
        "## batch_predict (`benchmarks/batch_predict.py`)",
        f"Protocol: {s['protocol']}. Each setting in its own child process (peak RSS = its "
        f"ru_maxrss). Target: {s['target']} — {'met' if s['met'] else '**not met**'}.",
        "",
        "| input | series per batch | seconds | series / s | peak RSS (GiB) |",
        "|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        lines.append(
            f"| {run['data']} ({run['n_series']} series) | {run['series_per_batch']} | "
            f"{run['seconds']:.0f} | {run['n_series'] / run['seconds']:.0f} | "
            f"{run['peak_rss_gib']:.2f} |"
        )
    return [*lines, ""]


def _spans(r: dict) -> list[str]:
    lines = [
        "## spans (`benchmarks/spans.py`)",
        f"Protocol: 199 series over 5 time units (20 points) and one over {r['long_span']:g} "
        f"units (the same density of points); {r['epochs']} epochs, euler on step 0.1, GRU "
        "encoder, batch 50; each variant in its own process (peak RSS = its ru_maxrss).",
        "",
        "| variant | s per epoch | peak RSS (MB) |",
        "|---|---|---|",
    ]
    for name, v in r["variants"].items():
        lines.append(f"| {name} | {v['s_per_epoch']:.2f} | {v['peak_rss_mb']:.0f} |")
    return [*lines, ""]


def _threads(r: dict) -> list[str]:
    lines = [
        "## threads (`benchmarks/threads.py`)",
        f"Protocol: `LatentODEForecaster` defaults, periodic 500 × 50, {r['epochs']} epochs; "
        "forecast of 2,000 series (32 samples, 20 times); each setting in its own process, "
        f"quiet and beside one busy process; {r['cores']} cores."
        + (f" {r['note']}" if r.get("note") else ""),
        "",
        "| machine | n_threads | s per epoch | forecast s |",
        "|---|---|---|---|",
    ]
    for load in ("quiet", "busy_neighbour"):
        for row in r.get(load, []):
            lines.append(
                f"| {load.replace('_', ' ')} | {row['n_threads']} | {row['s_per_epoch']:.2f} | "
                f"{row['predict_s']:.2f} |"
            )
    return [*lines, ""]


def _adaptive(r: dict) -> list[str]:
    lines = [
        "## adaptive (`benchmarks/adaptive.py`)",
        "Protocol: dopri5 with a step size per series (`per_series`, shipped) against "
        "torchdiffeq's one per batch (`shared`). Solver: random 64×2 field, 200 series × 50 "
        "query times, one solve with back-propagation. Forecaster: defaults but "
        '`method="dopri5"`, periodic '
        f"500 × 50, {r['epochs']} epochs; forecast of 1,000 series (32 samples, 20 times). "
        "*Alone vs batch*: the largest change of a series' output between solving it alone "
        "and in its batch; each variant in its own process.",
        "",
        "| variant | solve s | solve NFE | solve alone vs batch | s per epoch | forecast s "
        "| forecast alone vs batch |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, v in r["variants"].items():
        s_, f_ = v["solver"], v["forecaster"]
        lines.append(
            f"| {name} | {s_['seconds']:.3f} | {s_['nfe']} | {s_['alone_vs_batch']:.2g} | "
            f"{f_['epoch_s']:.2f} | {f_['predict_1000_s']:.2f} | {f_['alone_vs_batch']:.2g} |"
        )
    return [*lines, ""]


def _density_defaults(r: dict, title: str = "density_defaults") -> list[str]:
    methods = ("ffjord_default", "ffjord_normal", "gmm", "kde")
    lines = [
        f"## {title} (`benchmarks/density_defaults.py`)",
        "Protocol: 4,000 training / 2,000 test points per 2-D set (digits: 1,200 / 597 in 10 "
        f"PCA dimensions), seed {r.get('seed', 0)}; held-out NLL in nats per point (fit seconds); "
        f"`ffjord_default` is `FFJORDDensity(random_state={r.get('seed', 0)})` (base `gmm`, "
        "lr 1e-3, budget in steps), `ffjord_normal` the defaults before it (base `normal`, "
        "lr 5e-3, 100 epochs, patience 10); GMM by BIC, KDE by 3-fold CV.",
        "",
        "| set | true density | " + " | ".join(methods) + " | ffjord_default below GMM and KDE |",
        "|---|---|" + "---|" * (len(methods) + 1),
    ]
    wins, scored = 0, 0
    for name, row in r["sets"].items():
        cells = []
        for m in methods:
            v = row.get(m)
            cells.append("—" if v is None else f"{v['nll']:.4f} ({v['fit_s']:.0f} s)")
        true = row.get("true_nll")
        ours, rivals = row.get("ffjord_default"), [row.get(m) for m in ("gmm", "kde")]
        beats = "—"
        if ours is not None and all(v is not None for v in rivals):
            won = all(ours["nll"] < v["nll"] for v in rivals)
            beats = "yes" if won else "no"
            if row.get("dim", 2) == 2:  # the count is over the 2-D sets
                wins, scored = wins + won, scored + 1
        lines.append(
            f"| {name} | {'—' if true is None else f'{true:.4f}'} | "
            + " | ".join(cells)
            + f" | {beats} |"
        )
    lines += [
        "",
        f"2-D sets where the default FFJORD is below both: {wins} of {scored} (target ≥ 4).",
    ]
    if r.get("note"):
        lines += ["", f"Note: {r['note']}"]
    return [*lines, ""]


def _anomaly(r: dict) -> list[str]:
    params = r.get("params") or {}
    title = "anomaly (`benchmarks/anomaly.py`)"
    if params:  # an ablation run: its overrides of the Latent ODE in the title
        title = f"anomaly with `--params '{json.dumps(params)}'` (`benchmarks/anomaly.py`)"
    if r.get("seed"):
        title += f", seed {r['seed']}"
    lines = [
        f"## {title}",
        f"Protocol: {r['protocol']}; Latent ODE fits of {r['seconds']:.0f} s. AUROC "
        "(average precision in brackets); higher scores mean more anomalous.",
        "",
    ]
    if r.get("note"):
        lines[-2] += f" {r['note']}"
    first = next(iter(r["sets"].values()))
    if "latent_ode_joint_obs" not in next(iter(first["types"].values())):
        lines[-2] += (
            " Measured before `score_samples(kind=)`: `latent_ode_obs` / `latent_ode_series` "
            "are the joint IWAE bound."
        )
    for name, res in r["sets"].items():
        methods = list(next(iter(res["types"].values())))
        lines += [
            f"### {name} ({res['n_test_series']} test series, {res['n_anomalous']} altered)",
            "",
            "| anomaly | " + " | ".join(methods) + " |",
            "|---|" + "---|" * len(methods),
        ]
        for kind, row in res["types"].items():
            best = max(v["auroc"] for v in row.values())
            cells = [
                (f"**{v['auroc']:.3f}**" if v["auroc"] == best else f"{v['auroc']:.3f}")
                + f" ({v['ap']:.2f})"
                for v in row.values()
            ]
            lines.append(f"| {kind} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _gpu(r: dict) -> list[str]:
    """CPU figures (``gpu.json``) beside CUDA ones (``gpu_cuda.json``) where a GPU ran."""
    cuda = _load("gpu_cuda")
    lines = [
        "## devices (`benchmarks/gpu.py`)",
        f"CPU: {r['machine']}, {r['threads']} thread, torch {r['torch']}. "
        + (
            f"CUDA: {cuda.get('gpu')}, torch {cuda['torch']} (`bash benchmarks/run_gpu.sh`)."
            if cuda
            else "CUDA: not run yet (`bash benchmarks/run_gpu.sh` on a GPU machine writes "
            "`gpu_cuda.json`)."
        ),
        f"Training: defaults but `batch_size`, periodic protocol {r['n_series']} series × 100 "
        "points; median seconds per epoch after the first. Forecast: 32 samples, 100 query "
        "times. Issue 15's target: at batch 1024 an H200 epoch ≥ 20× faster than a CPU one."
        + (f" {r['note']}" if r.get("note") else ""),
        "",
        "| measure | CPU | CUDA | CPU / CUDA |",
        "|---|---|---|---|",
    ]

    def row(label: str, a: float | None, b: float | None, unit: str) -> str:
        ratio = f"{a / b:.1f}×" if a is not None and b else "—"
        fa = f"{a:.3g} {unit}" if a is not None else "—"
        fb = f"{b:.3g} {unit}" if b is not None else "—"
        return f"| {label} | {fa} | {fb} | {ratio} |"

    def by(section: str, key: str, src: dict | None) -> dict:
        rows = (src or {}).get(section)
        return {x[key]: x for x in rows} if isinstance(rows, list) else {}

    train_c, train_g = by("train", "batch_size", r), by("train", "batch_size", cuda)
    for b in sorted(set(train_c) | set(train_g)):
        a, g = train_c.get(b, {}).get("epoch_s"), train_g.get(b, {}).get("epoch_s")
        lines.append(row(f"epoch, batch {b}", a, g, "s"))
    pred_c, pred_g = by("predict", "n_series", r), by("predict", "n_series", cuda)
    for n in sorted(set(pred_c) | set(pred_g)):
        a, g = pred_c.get(n, {}).get("ms_per_series"), pred_g.get(n, {}).get("ms_per_series")
        lines.append(row(f"forecast, {n} series (per series)", a, g, "ms"))
    for name in ("density", "dynamics"):
        a = (r.get(name) or {}).get("epoch_s") if isinstance(r.get(name), dict) else None
        src = (cuda or {}).get(name)
        g = src.get("epoch_s") if isinstance(src, dict) else None
        if a is not None or g is not None:
            lines.append(row(f"{name} epoch", a, g, "s"))
    paired = [(k, v) for k, v in r.items() if k.startswith("predict_ab_") and isinstance(v, dict)]
    if paired:
        lines += ["", "Paired forecast measurements (ms per series; processes alternating):", ""]
        for key, v in paired:
            runs = {k[len("ms_per_series_") :]: x for k, x in v.items() if k.startswith("ms_per_")}
            cells = "; ".join(f"{k}: {', '.join(f'{x:.3f}' for x in xs)}" for k, xs in runs.items())
            commit = f" ({v['commit']})" if v.get("commit") else ""
            lines.append(f"- `{key}`{commit}: {cells}. {v.get('protocol', '')}")
    memory = (cuda or {}).get("memory")
    if isinstance(memory, list):
        lines += ["", "| adjoint | points | peak GPU MB | epoch s |", "|---|---|---|---|"]
        lines += [
            f"| {m['adjoint']} | {m['n_points']} | {m['peak_mb']:.0f} | {m['epoch_s']:.2f} |"
            for m in memory
            if "peak_mb" in m
        ]
    return [*lines, ""]


def _memory(r: dict) -> list[str]:
    lines = [
        "## memory (`benchmarks/memory.py`)",
        f"Protocol: one training epoch, defaults but `batch_size=32`, {r['n_series']} periodic "
        "series in one batch; peak RSS of a child process per setting, the median of "
        f"{r.get('repeats', 1)} runs (about 360 MB of it is Python and torch before the fit, "
        "and 'input frame' is the process after building the periodic frame, before the "
        "fit). Issue 15's target: peak grows ≤ 10 % when the length grows 10×."
        + (f" {r['note']}" if r.get("note") else ""),
        "",
        "| variant | points | peak RSS MB (median) | input frame MB | growth vs previous "
        "length | growth vs shortest | epoch s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        if "peak_mb" not in row:
            lines.append(f"| {row['variant']} | {row['n_points']} | failed | — | — | — | — |")
            continue
        previous = row.get("growth_vs_previous")
        lines.append(
            f"| {row['variant']} | {row['n_points']} | {row['peak_mb']:.0f} | "
            f"{row['rss_before_mb']:.0f} | "
            f"{'—' if previous is None else f'{100 * previous:+.0f} %'} | "
            f"{100 * row.get('growth_vs_shortest', 0.0):+.0f} % | {row['seconds']:.1f} |"
        )
    return [*lines, ""]


def _variant_table(
    title: str, intro: str, key: str, rows: list[tuple[str, str, dict]], digits: int = 3
) -> list[str]:
    """A ``benchmarks/real.py`` variants-only section: CRPS / MSE / coverage per variant,
    one row per (``key`` label, task, scores by variant)."""
    variants = list(rows[0][2]) if rows else []
    lines = [
        f"## Real data: {title} (`benchmarks/real.py`, variants only)",
        "",
        f"{intro} CRPS / MSE (lower is better) / coverage of the 80 % interval.",
        "",
        f"| {key} | task | "
        + " | ".join(f"{v} crps | {v} mse | {v} cov." for v in variants)
        + " |",
        "|---|---|" + "---|---|---|" * len(variants),
    ]
    for label, task, scores in rows:
        cells = [
            f"{scores[v]['crps']:.{digits}f} | {scores[v]['mse']:.{digits}f} "
            f"| {scores[v]['coverage']:.2f}"
            for v in variants
        ]
        lines.append(f"| {label} | {task} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _real_ablation(r: dict, title: str = "latent-path term") -> list[str]:
    """Latent ODE variants of ``benchmarks/real.py`` without baselines, side by side."""
    meta = r.get("meta", {})
    variants = list(meta.get("variants", {}))
    budget = (
        f"{meta['epochs']} epochs per set (every variant trains alike)"
        if meta.get("epochs")
        else f"Budget {meta.get('seconds', 0):g} s per set"
    )
    rows = [
        (name, task, {v: scores[v] for v in variants})
        for name, s in r.get("sets", {}).items()
        for task, scores in s["tasks"].items()
    ]
    intro = f"{meta.get('note', '')} {budget}. Command: `{meta.get('command', '')}`."
    return _variant_table(title, intro, "set", rows)


def _calibration(r: dict, title: str = "Noise calibrations on the same weights") -> list[str]:
    """``benchmarks/calibration.py``: noise calibrations of the same trained weights."""
    meta = r.get("meta", {})
    variants = list(meta.get("variants", []))
    lines = [
        f"## {title} (`benchmarks/calibration.py`)",
        "",
        "One fit per set ("
        + (f"{meta['seconds']:g} s" if meta.get("seconds") else f"{meta.get('epochs')} epochs")
        + f", seed {meta.get('seed')}, "
        "`benchmarks/real.py`'s split and tasks), then each calibration from the same "
        "trained noise: only the calibration differs. CRPS (lower is better) / coverage "
        "of the 80 % interval, pooled and per feature. one_multiplier: one noise "
        "multiplier per feature; per_regime (the default): one for values hidden beside "
        "another feature observed at the same step, one for the rest; student_t: "
        "per_regime with Student-t tails; per_regime_4_contexts: per_regime over four "
        "random contexts per validation series. Command: "
        f"`{meta.get('command', '')}`." + (f" {meta['note']}" if meta.get("note") else ""),
        "",
    ]
    for name, res in r.get("sets", {}).items():
        features = [f for f in res[variants[0]]["interpolation"] if f != "all"] if variants else []
        lines += [
            f"### {name} ({res['epochs']} epochs)",
            "",
            "| task | variant | crps | coverage | "
            + " | ".join(f"{f} crps / cov." for f in features)
            + " |",
            "|---|---|---|---|" + "---|" * len(features),
        ]
        for task in ("extrapolation", "interpolation"):
            for v in variants:
                scores = res[v][task]
                cells = [f"{scores[f]['crps']:.3f} / {scores[f]['coverage']:.2f}" for f in features]
                lines.append(
                    f"| {task} | {v} | {scores['all']['crps']:.4f} | "
                    f"{scores['all']['coverage']:.3f} | " + " | ".join(cells) + " |"
                )
        ratio = res.get("per_regime", {}).get("concurrent_ratio", [])
        ratios = ", ".join(
            f"{f} {x:.2f}" for f, x in zip(res.get("features", []), ratio, strict=False)
        )
        if ratios:
            lines += ["", f"per_regime's concurrent / other multiplier: {ratios}."]
        lines.append("")
    return lines


def _real_blend(r: dict) -> list[str]:
    """``benchmarks/real_blend.py``: the model, the GP, gradient boosting and their blends."""
    lines = [
        "## Real data: blends of the Latent ODE with the best baselines "
        "(`benchmarks/real_blend.py`)",
        "",
        "Protocol: `benchmarks/real.py`'s split and tasks (seed 0); the Latent ODE (defaults, "
        "200 s), the GP and gradient boosting (gb) fitted once; `lode+B@w`: a mixture of "
        "the model's draws and a share w of the baseline's, mean the w-weighted mean; "
        "`lode_shiftB@w`: the model's draws shifted to that mean. MSE / CRPS / coverage of "
        "the 80 % interval, pooled, lower is better. A blend that beat the model clearly "
        "would make a hybrid the lever to build."
        + (f" {r['meta']['note']}" if r.get("meta", {}).get("note") else "")
        + f" Command: `{r.get('meta', {}).get('command', '')}`.",
        "",
    ]
    for name, res in r.get("sets", {}).items():
        tasks = res["tasks"]
        methods = list(tasks["extrapolation"])
        lines += [
            f"### {name}",
            "",
            "| method | extrap. mse | extrap. crps | extrap. cov. | interp. mse | interp. crps "
            "| interp. cov. |",
            "|---|---|---|---|---|---|---|",
        ]
        for m in methods:
            cells = [
                f"{tasks[t][m][k]:.4f}" if k != "coverage" else f"{tasks[t][m][k]:.3f}"
                for t in ("extrapolation", "interpolation")
                for k in ("mse", "crps", "coverage")
            ]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _real_splits(r: dict, title: str) -> list[str]:
    """Latent ODE variants of ``benchmarks/real.py`` on one set over several splits."""
    meta = r.get("meta", {})
    rows = [
        (f"seed {seed}", task, scores)
        for seed, tasks in r.get("splits", {}).items()
        for task, scores in tasks.items()
    ]
    intro = f"{meta.get('note', '')} Command: `{meta.get('command', '')}`."
    return _variant_table(title, intro, "split", rows, digits=4)


def _compile(r: dict) -> list[str]:
    step, fit = r["step_loop"], r["fit"]
    lines = [
        f"## torch.compile (`benchmarks/compile.py`, {r['device']})",
        "Protocol: the ODE-RNN encoder's loop body (Euler step of the 32-wide hidden field, "
        "GRU cell, mask) at batch 100, 50 steps forward and backward, eager against the whole "
        "step compiled; and the default fit on the periodic protocol (800 series), eager "
        "against the vector fields' and the GRU cell's forward compiled (dynamic shapes); "
        "each variant in its own process, one thread." + (f" {r['note']}" if r.get("note") else ""),
        "",
        "| measure | eager | compiled | compiled / eager |",
        "|---|---|---|---|",
        f"| encoder loop, ms (median of {r['repeats']}) | {step['eager']['ms_per_loop']:.1f} | "
        f"{step['compiled']['ms_per_loop']:.1f} | "
        f"{step['compiled']['ms_per_loop'] / step['eager']['ms_per_loop']:.2f} |",
        f"| its first loop, s | {step['eager']['first_loop_s']:.2f} | "
        f"{step['compiled']['first_loop_s']:.2f} | — |",
        f"| fit, s per epoch (median after the first two of {r['epochs']}) | "
        f"{fit['eager']['s_per_epoch']:.3f} | {fit['compiled']['s_per_epoch']:.3f} | "
        f"{fit['compiled']['s_per_epoch'] / fit['eager']['s_per_epoch']:.2f} |",
        f"| fit, first epoch s | {fit['eager']['first_epoch_s']:.2f} | "
        f"{fit['compiled']['first_epoch_s']:.2f} | — |",
    ]
    return [*lines, ""]


def _fused(r: dict) -> list[str]:
    enc, fit = r["encoder"], r["fit"]
    losses = {v: [f"{run['train_loss']:.4f}" for run in fit[v]["runs"]] for v in fit}
    lines = [
        f"## The ODE-RNN encoder's fused loop (`benchmarks/fused.py`, {r['device']})",
        "Protocol: the encoder alone (hidden 32, field 32 → 32 → 32, batch 100 × 50 "
        "observations, forward and backward; both loops in one process, alternating, "
        f"{r['rounds']} rounds of {r['repeats']} passes, the median of the rounds' medians); "
        "the default fit on the periodic protocol (800 series × 50 observed points; the "
        "encoder's loop fused, or it and the decoder's Euler steps, against neither; "
        f"{r['epochs']} epochs, median s per epoch after the first two), each run in its own "
        f"process, {r['rounds']} alternating rounds; one thread."
        + (f" {r['note']}" if r.get("note") else ""),
        "",
        "| measure | step by step | fused | ratio |",
        "|---|---|---|---|",
        f"| encoder pass, ms | {enc['loop']['ms_per_pass']:.1f} | "
        f"{enc['fused']['ms_per_pass']:.1f} | "
        f"{enc['loop']['ms_per_pass'] / enc['fused']['ms_per_pass']:.2f} |",
    ]
    for v, label in (("encoder", "the encoder's loop fused"), ("fused", "both loops fused")):
        lines.append(
            f"| fit, s per epoch: {label} | {fit['loop']['s_per_epoch']:.3f} | "
            f"{fit[v]['s_per_epoch']:.3f} | "
            f"{fit['loop']['s_per_epoch'] / fit[v]['s_per_epoch']:.2f} |"
        )
    lines.append(
        f"| fit, last epoch's training loss per run | {', '.join(losses['loop'])} | "
        f"{', '.join(losses['fused'])} | — |"
    )
    return [*lines, ""]


def _generic(name: str, r: dict) -> list[str]:
    if name == "dynamics":
        return _dynamics(r)
    summary = r.get("summary", {})
    body = "\n".join(f"- {k}: {v}" for k, v in summary.items())
    return [f"## {name} (`benchmarks/{name}.py`)", body or "(see JSON)", ""]


def _machine() -> str:
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:  # pragma: no cover - torch is a dependency
        torch_version = "not installed"
    return (
        f"{platform.platform()}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, torch {torch_version}; summarized "
        f"{datetime.date.today().isoformat()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE / "results", help="JSON folder")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    _RESULTS[0] = args.results
    lines = [
        "# Benchmark results",
        "",
        "Machine: 2 shared CPU cores, `torch.set_num_threads(1)`; figures from one run each "
        "(medians within a run where stated). Regenerate with `python -m benchmarks all` "
        "(`--quick`: a 10-minute smoke run into `benchmarks/results/quick/`), or one script "
        "at a time with the commands in README.md, then `python benchmarks/summarize.py`.",
        "",
        f"Summarized on: {_machine()}.",
        "",
    ]
    runs = _load("runs")
    if runs is not None:
        lines += [
            "Run times: "
            + ", ".join(
                f"{r['name']} {r['seconds']:.0f} s" + ("" if r["returncode"] == 0 else " (FAILED)")
                for r in runs["runs"]
            ),
            "",
        ]
    renderers = (
        ("periodic", _periodic),
        ("periodic_defaults_euler", _periodic_defaults),
        ("reference", _reference),
        (
            "reference_run2",
            lambda r: _reference(r, "side by side with the reference code, a second run"),
        ),
        (
            "reference_run4",
            lambda r: _reference(
                r, "side by side with the reference code, the fused training loops"
            ),
        ),
        (
            "reference_run5",
            lambda r: _reference(
                r, "side by side with the reference code, the fused training loops, a second run"
            ),
        ),
        (
            "reference_run3",
            lambda r: _reference(r, "side by side with the reference code, a third run"),
        ),
        ("scaling", _scaling),
        ("density", _density),
        ("density_ablation", _density_ablation),
        ("density_defaults", _density_defaults),
        ("density_defaults_seed1", lambda r: _density_defaults(r, "density_defaults, seed 1")),
        ("real", _real),
        ("real_seed1", lambda r: _real(r, "Real irregular data, a second split")),
        ("real_nafld4000", lambda r: _real(r, "Real irregular data, nafld with 4,000 series")),
        (
            "real_flights1600",
            lambda r: _real(r, "Real irregular data, flights with 1,600 aircraft"),
        ),
        ("real_latent_weight", _real_ablation),
        ("real_beta_nll", lambda r: _real_ablation(r, "β-NLL weights")),
        ("real_calibration", lambda r: _real_ablation(r, "noise calibration")),
        ("real_patience", lambda r: _real_ablation(r, "early-stopping patience")),
        ("real_cosine", lambda r: _real_ablation(r, "cosine learning-rate schedule")),
        ("real_method", lambda r: _real_ablation(r, "decoder solver, euler (default) vs dopri5")),
        ("real_batch", lambda r: _real_ablation(r, "batch size 100 (default) and 200")),
        (
            "real_patience1000",
            lambda r: _real_ablation(r, "patience='auto' counting 1,000 optimiser steps"),
        ),
        ("real_transforms", lambda r: _real_ablation(r, "declared value transforms")),
        (
            "real_transforms_remifentanil300",
            lambda r: _real_ablation(r, "log of remifentanil's concentration, 300 s"),
        ),
        (
            "real_transforms_remifentanil",
            lambda r: _real_splits(r, "log of remifentanil's concentration, four splits"),
        ),
        ("real_noise", lambda r: _real_ablation(r, "Student-t observation noise")),
        ("calibration", _calibration),
        (
            "calibration_flights300",
            lambda r: _calibration(r, "Noise calibrations on the same weights, flights, 300 s"),
        ),
        (
            "calibration_inside",
            lambda r: _calibration(r, "Noise calibrations: an inside-the-span regime (not kept)"),
        ),
        (
            "calibration_floor",
            lambda r: _calibration(r, "Noise calibrations: a validation coverage floor (not kept)"),
        ),
        ("real_covariates", lambda r: _real_ablation(r, "known covariates (remifentanil)")),
        ("real_static", lambda r: _real_ablation(r, "static covariates")),
        ("real_600s", lambda r: _real_ablation(r, "600 s of training (nafld, flights)")),
        (
            "real_encoder_step",
            lambda r: _real_ablation(r, "the ODE-RNN encoder's step, 0.5 (default) and 0.1"),
        ),
        ("real_encoder", lambda r: _real_ablation(r, "the encoder: ODE-RNN (default), GRU, GRU-D")),
        ("real_blend", _real_blend),
        ("real_fused", lambda r: _real_ablation(r, "the fused training loops")),
        ("batch_predict", _batch_predict),
        ("spans", _spans),
        ("threads", _threads),
        ("adaptive", _adaptive),
        ("anomaly", _anomaly),
        ("anomaly_seed1", _anomaly),
        ("anomaly_latent_weight1_beta0", _anomaly),
        ("anomaly_latent_weight0", _anomaly),
        ("gpu", _gpu),
        ("memory", _memory),
        ("compile", _compile),
        ("fused", _fused),
    )
    for name, render in renderers:
        r = _load(name)
        if r is not None:
            lines += render(r)
    for name in ("posterior", "dynamics", "serving"):
        r = _load(name)
        if r is not None:
            lines += _generic(name, r)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
