"""Command line: ``latentode demo | fit | predict | score``.

``latentode demo`` fits a forecaster on a bundled irregular dataset, compares it with
simple baselines on held-out points (interpolation) and on each series' last 30 % of time
(extrapolation), and writes a forecast plot, the metrics and the model to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

logger = logging.getLogger("latentode.cli")


def _echo(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _read_frame(path: str, id_col: str, time_col: str, parse_dates: bool) -> Any:
    import pandas as pd

    from latentode.datasets import load_csv
    from latentode.exceptions import LongFrameError

    if not path.endswith(".parquet"):
        return load_csv(path, id_col=id_col, time_col=time_col, parse_dates=parse_dates)
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise LongFrameError(
            f"{path!r} is not a readable parquet file ({_first_line(exc)}); expected a "
            "long-format table written by pandas, polars or pyarrow."
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _write_frame(frame: Any, path: str) -> None:
    from latentode.data import to_pandas

    out = to_pandas(frame)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if path.endswith(".parquet"):
        out.to_parquet(path, index=False)
    else:
        out.to_csv(path, index=False)


# ---------------------------------------------------------------------------- demo
def _demo(args: argparse.Namespace) -> int:
    import torch

    from latentode import LatentODEForecaster
    from latentode.datasets import load_bundled
    from latentode.evaluation import (
        extrapolation_split,
        interpolation_split,
        last_value_baseline,
        linear_interpolation_baseline,
        masked_mse,
    )
    from latentode.plotting.forecast import plot_forecast

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df = load_bundled(args.dataset)
    features = [c for c in df.columns if c not in ("unique_id", "ds")]
    ids = df["unique_id"].unique()
    n_test = max(1, len(ids) // 5)
    test_ids = set(ids[-n_test:])
    train = df[~df["unique_id"].isin(test_ids)]
    test = df[df["unique_id"].isin(test_ids)].reset_index(drop=True)
    _echo(
        f"dataset '{args.dataset}': {len(ids)} series, {len(df)} rows, features {features}; "
        f"training on {len(ids) - n_test} series, testing on {n_test}"
    )
    # Measured on this data within the 90 s budget (2 shared CPU cores): the ODE-RNN
    # encoder with Euler steps of 0.1 solver time units on each series' own grid and a
    # 100-unit latent field — interpolation MSE 0.16 → 0.02 and extrapolation 0.29 → 0.04
    # against a GRU-Δt encoder on a busy machine (0.006 / 0.013 on a quiet one, against
    # 0.016 for linear interpolation); the noise scale is learned, then calibrated on the
    # validation series (80 % bands cover 0.82 of held-out points; 0.96 with the ELBO's
    # own scale, which counts the posterior's spread twice); patience is long because the
    # random-context validation loss is noisy.
    est = LatentODEForecaster(
        encoder="odernn",
        latent_dim=10,
        encoder_hidden_dim=40,
        field_hidden_dim=100,
        field_layers=1,
        method="euler",
        batch_size=100,
        patience=100,
        max_epochs=args.max_epochs,
        max_time=args.max_time,
        random_state=args.seed,
        verbose=not args.quiet,
        checkpoint_dir=str(out / "checkpoint"),
    )
    start = time.perf_counter()
    est.fit(train)
    fit_seconds = time.perf_counter() - start

    hist_i, held = interpolation_split(test, fraction=0.2, random_state=args.seed)
    hist_e, future = extrapolation_split(test, fraction=0.3)
    queries_i, queries_e = held[["unique_id", "ds"]], future[["unique_id", "ds"]]
    rows = {
        "interpolation": {
            "latent ODE": masked_mse(est.predict(hist_i, at=queries_i), held, features),
            "linear interpolation": masked_mse(
                linear_interpolation_baseline(hist_i, queries_i, features), held, features
            ),
            "last value": masked_mse(
                last_value_baseline(hist_i, queries_i, features), held, features
            ),
        },
        "extrapolation": {
            "latent ODE": masked_mse(est.predict(hist_e, at=queries_e), future, features),
            "linear interpolation": masked_mse(
                linear_interpolation_baseline(hist_e, queries_e, features), future, features
            ),
            "last value": masked_mse(
                last_value_baseline(hist_e, queries_e, features), future, features
            ),
        },
    }
    interval = est.predict_interval(hist_e, at=queries_e, coverage=0.8)
    inside = [
        ((future[f] >= interval[f"{f}_lower"]) & (future[f] <= interval[f"{f}_upper"]))[
            future[f].notna()
        ].mean()
        for f in features
    ]
    _echo(f"\nfitted {est.n_epochs_} epochs in {fit_seconds:.1f} s (best epoch {est.best_epoch_})")
    header = f"{'latent ODE':>12}{'linear interp.':>16}{'last value':>12}"
    _echo(f"\n{'MSE on held-out points':<26}{header}")
    for task, scores in rows.items():
        _echo(
            f"{task:<26}{scores['latent ODE']:>12.4f}{scores['linear interpolation']:>16.4f}"
            f"{scores['last value']:>12.4f}"
        )
    _echo(f"80 % interval coverage (extrapolation): {float(sum(inside) / len(inside)):.2f}")

    # The model and the metrics first: they are the results, the plot only shows them.
    model_path = est.save(out / "model")
    metrics = {
        "dataset": args.dataset,
        "fit_seconds": fit_seconds,
        "epochs": est.n_epochs_,
        "mse": rows,
        "interval_coverage_80": float(sum(inside) / len(inside)),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    grid = est.predict_interval(hist_e, at=_dense_queries(hist_e, future), coverage=0.8)
    fig = plot_forecast(
        hist_e,
        grid,
        feature=features[0],
        truth=future,
        title=f"latentode demo — {args.dataset}: 80 % predictive band",
    )
    plot_path = out / "forecast.png"
    fig.savefig(plot_path, dpi=120)
    _echo(f"\nwrote {plot_path}, {out / 'metrics.json'} and the model in {model_path}")
    return 0


def _dense_queries(history: Any, future: Any, n: int = 60) -> Any:
    """An even grid per series from its first observation to its last future time."""
    import pandas as pd

    from latentode.data import even_times

    start = history.groupby("unique_id", sort=False)["ds"].min()
    end = future.groupby("unique_id", sort=False)["ds"].max()
    rows = []
    for sid in end.index:
        times = even_times(start[sid], end[sid], n)
        rows.append(pd.DataFrame({"unique_id": sid, "ds": times}))
    return pd.concat(rows, ignore_index=True)


# ---------------------------------------------------------------------------- fit / predict
def _fit(args: argparse.Namespace) -> int:
    from latentode import LatentODEForecaster

    params = _fit_params(args.params)
    df = _read_frame(args.data, args.id_col, args.time_col, args.parse_dates)
    est = LatentODEForecaster(
        id_col=args.id_col,
        time_col=args.time_col,
        random_state=args.seed,
        verbose=not args.quiet,
        checkpoint_dir=args.checkpoint_dir,
        **params,
    )
    est.fit(df, resume=args.resume)
    path = est.save(args.model)
    _echo(f"fitted {est.n_epochs_} epochs; model saved to {path}")
    return 0


#: Parameters that ``latentode fit`` sets through its own options, not through --params.
_FIT_OPTIONS = {
    "id_col": "--id-col",
    "time_col": "--time-col",
    "random_state": "--seed",
    "verbose": "--quiet",
    "checkpoint_dir": "--checkpoint-dir",
}
_JSON_TYPES = {list: "a list", str: "a string", int: "a number", float: "a number"}


def _fit_params(text: str | None) -> dict[str, Any]:
    """The ``--params`` JSON object, checked against LatentODEForecaster's parameters."""
    import difflib

    from latentode import LatentODEForecaster
    from latentode.exceptions import ParameterError

    if not text:
        return {}
    usage = (
        "The --params option must be a JSON object of LatentODEForecaster parameters, e.g. "
        """'{"max_epochs": 50}'."""
    )
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{usage} Got invalid JSON instead ({exc}).") from None
    if not isinstance(params, dict):
        got = _JSON_TYPES.get(type(params), "null" if params is None else "a boolean")
        raise ParameterError(f"{usage} Got {got} instead.")
    valid = sorted(set(LatentODEForecaster().get_params(deep=False)) - {*_FIT_OPTIONS, "callbacks"})
    for key in params:
        if key in _FIT_OPTIONS:
            raise ParameterError(
                f"The --params option cannot hold {key!r}: {key!r} is set with {_FIT_OPTIONS[key]}."
            )
        if key == "callbacks":
            raise ParameterError(
                "The --params option cannot hold 'callbacks': they are Python objects."
            )
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParameterError(
                f"The --params option has an unknown parameter {key!r}{hint}; "
                f"LatentODEForecaster's parameters are {', '.join(valid)}."
            )
    return params


def _predict(args: argparse.Namespace) -> int:
    from latentode import load

    est = load(args.model)
    df = _read_frame(args.data, est.id_col, est.time_col, args.parse_dates)
    at = _read_frame(args.at, est.id_col, est.time_col, args.parse_dates) if args.at else None
    kwargs = {"horizon": args.horizon, "n_points": args.n_points} if at is None else {}
    if args.coverage is not None:
        frame = est.predict_interval(df, at=at, coverage=args.coverage, **kwargs)
    else:
        frame = est.predict(df, at=at, **kwargs)
    _write_frame(frame, args.output)
    _echo(f"wrote {len(frame)} rows to {args.output}")
    return 0


def _score(args: argparse.Namespace) -> int:
    import pandas as pd

    from latentode import load

    est = load(args.model)
    df = _read_frame(args.data, est.id_col, est.time_col, args.parse_dates)
    scores = est.score_samples(df)
    ids = pd.unique(df[est.id_col])
    frame = pd.DataFrame({est.id_col: ids, "log_likelihood_bound": scores})
    _write_frame(frame, args.output)
    _echo(f"mean log-likelihood per observation: {est.score(df):.4f}; wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from latentode._version import __version__

    parser = argparse.ArgumentParser(prog="latentode", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"latentode {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="fit on a bundled dataset, report metrics, plot")
    demo.add_argument("--dataset", default="periodic_irregular")
    demo.add_argument("--out", default="latentode-demo")
    demo.add_argument("--max-epochs", type=int, default=2000)
    demo.add_argument("--max-time", type=float, default=90.0, help="training seconds")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=1)
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(func=_demo)

    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", required=True, help="long-format CSV or parquet file")
        p.add_argument("--parse-dates", action="store_true", help="time column is a date")

    fit = sub.add_parser("fit", help="fit a LatentODEForecaster on a long-format file")
    data_args(fit)
    fit.add_argument("--model", required=True, help="directory to save the model to")
    fit.add_argument("--id-col", default="unique_id")
    fit.add_argument("--time-col", default="ds")
    fit.add_argument("--params", help="JSON of hyper-parameters, e.g. '{\"max_epochs\": 50}'")
    fit.add_argument("--checkpoint-dir")
    fit.add_argument("--resume", action="store_true")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--quiet", action="store_true")
    fit.set_defaults(func=_fit)

    pred = sub.add_parser("predict", help="forecast with a saved model")
    data_args(pred)
    pred.add_argument("--model", required=True)
    pred.add_argument("--at", help="file of (id, time) query rows")
    pred.add_argument("--horizon", type=float)
    pred.add_argument("--n-points", type=int, default=10)
    pred.add_argument("--coverage", type=float, help="add a central predictive interval")
    pred.add_argument("--output", required=True)
    pred.set_defaults(func=_predict)

    score = sub.add_parser("score", help="per-series log-likelihood bounds")
    data_args(score)
    score.add_argument("--model", required=True)
    score.add_argument("--output", required=True)
    score.set_defaults(func=_score)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    from latentode.exceptions import LatentODEError

    try:
        return args.func(args)
    except (LatentODEError, FileNotFoundError) as exc:
        # Errors we raise for the user are complete messages: no stack trace.
        sys.stderr.write(f"latentode {args.command}: error: {exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
