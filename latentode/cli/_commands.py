"""``latentode fit | predict | score``: a forecaster from a long-format file, and its use."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from latentode.cli._io import echo, load_model, read_frame, write_frame

__all__ = ["batch", "fit", "levels", "predict", "score"]

#: Parameters that ``latentode fit`` sets through its own options, not in a config.
FIT_OPTIONS = {
    "id_col": "--id-col",
    "time_col": "--time-col",
    "random_state": "--seed",
    "verbose": "--quiet",
    "checkpoint_dir": "--checkpoint-dir",
}
_JSON_TYPES = {list: "a list", str: "a string", int: "a number", float: "a number"}


def fit(args: argparse.Namespace) -> int:
    from latentode import LatentODEForecaster
    from latentode.training import distributed

    params = {**config_params(args.config), **fit_params(args.params, "The --params option")}
    if args.nproc < 1:
        from latentode.exceptions import ParameterError

        raise ParameterError(f"--nproc must be an int >= 1. Got {args.nproc} instead.")
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch(args.argv, args.nproc)
    group = distributed.init_from_env(params.get("device", "auto"))
    df = read_frame(args.data, args.id_col, args.time_col, args.parse_dates)
    est = LatentODEForecaster(
        id_col=args.id_col,
        time_col=args.time_col,
        random_state=args.seed,
        verbose=not args.quiet,
        checkpoint_dir=args.checkpoint_dir,
        **params,
    )
    est.fit(df, resume=args.resume)
    if distributed.is_main_process():
        path = est.save(args.model)
        where = "" if group is None else f" ({group.size} processes)"
        echo(f"fitted {est.n_epochs_} epochs{where}; model saved to {path}")
    if group is not None:
        import torch.distributed as dist

        dist.barrier()  # the others wait for rank 0's save, then leave together
        dist.destroy_process_group()
    return 0


def _launch(argv: list[str], nproc: int) -> int:
    """Run this ``fit`` command again under ``torchrun`` on ``nproc`` local processes."""
    import subprocess
    import sys

    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            rest.append(arg)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "latentode.cli",
        *rest,
    ]
    return subprocess.call(command)


def config_params(path: str | None) -> dict[str, Any]:
    """The parameters of a ``--config`` file: a JSON or YAML mapping (``.yaml``/``.yml``)."""
    from latentode.exceptions import ParameterError

    if path is None:
        return {}
    source = f"The --config file {path!r}"
    text = Path(path).read_text()  # FileNotFoundError is reported as such
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:  # pragma: no cover - pyyaml comes with mlflow and matplotlib's deps
            raise ParameterError(f"{source} is YAML: pip install pyyaml.") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ParameterError(
                f"{source} is not valid YAML ({exc}).".replace("\n", " ")
            ) from None
        return check_params(loaded, source)
    return fit_params(text, source)


def fit_params(text: str | None, source: str) -> dict[str, Any]:
    """A JSON object of LatentODEForecaster parameters (``--params`` or a JSON config)."""
    from latentode.exceptions import ParameterError

    if not text:
        return {}
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{_usage(source)} Got invalid JSON instead ({exc}).") from None
    return check_params(params, source)


def _usage(source: str) -> str:
    return (
        f"{source} must be a mapping of LatentODEForecaster parameters, e.g. "
        """'{"max_epochs": 50}'."""
    )


def check_params(params: Any, source: str) -> dict[str, Any]:
    import difflib

    from latentode import LatentODEForecaster
    from latentode.exceptions import ParameterError

    if not isinstance(params, dict):
        got = _JSON_TYPES.get(type(params), "null" if params is None else "a boolean")
        raise ParameterError(f"{_usage(source)} Got {got} instead.")
    valid = sorted(set(LatentODEForecaster().get_params(deep=False)) - {*FIT_OPTIONS, "callbacks"})
    for key in params:
        if key in FIT_OPTIONS:
            raise ParameterError(
                f"{source} cannot hold {key!r}: {key!r} is set with {FIT_OPTIONS[key]}."
            )
        if key == "callbacks":
            raise ParameterError(f"{source} cannot hold 'callbacks': they are Python objects.")
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParameterError(
                f"{source} has an unknown parameter {key!r}{hint}; "
                f"LatentODEForecaster's parameters are {', '.join(valid)}."
            )
    return params


def levels(text: str | None, flag: str, *, percent: bool) -> list[float]:
    """Comma-separated probability levels of a flag; with ``percent``, ``80`` means 0.8."""
    from latentode.exceptions import ParameterError

    if text is None:
        return []
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if percent:
        values = [v / 100.0 if v >= 1.0 else v for v in values]
    if not values or any(not 0.0 < v < 1.0 for v in values):
        example = "80,95" if percent else "0.1,0.5,0.9"
        raise ParameterError(
            f"{flag} takes comma-separated levels in (0, {100 if percent else 1}), "
            f"e.g. {flag} {example}. Got {text!r}."
        )
    return values


def predict(args: argparse.Namespace) -> int:
    from latentode.exceptions import ParameterError

    est = load_model(args.model, args.tracking_uri)
    if not hasattr(est, "predict_distribution"):
        raise ParameterError(
            f"--model {args.model!r} holds a {type(est).__name__}; latentode predict "
            "forecasts with a LatentODEForecaster."
        )
    df = read_frame(args.data, est.id_col, est.time_col, args.parse_dates)
    at = read_frame(args.at, est.id_col, est.time_col, args.parse_dates) if args.at else None
    kwargs: dict[str, Any] = {}
    if at is None:
        if args.horizon is None:
            raise ParameterError("latentode predict needs --at FILE or --horizon H.")
        kwargs = {"horizon": args.horizon, "n_points": args.n_points}
    alpha = levels(args.quantiles, "--quantiles", percent=False)
    coverage: Any = levels(args.coverage, "--coverage", percent=True)
    if len(coverage) == 1:
        coverage = coverage[0]  # one level: columns <feature>_lower / _upper
    frame = est.predict_distribution(
        df,
        at=at,
        alpha=alpha,
        coverage=coverage if coverage else None,
        n_samples=args.n_samples,
        **kwargs,
    )
    write_frame(frame, args.output)
    echo(f"wrote {len(frame)} rows to {args.output}")
    return 0


def batch(args: argparse.Namespace) -> int:
    from latentode.tracking import batch_predict

    model = args.model
    if model.startswith(("models:/", "runs:/")):
        from latentode.cli._registry import use_tracking_uri

        use_tracking_uri(args.tracking_uri)
    coverage: Any = levels(args.coverage, "--coverage", percent=True)
    report = batch_predict(
        model,
        args.data,
        args.output,
        horizon=args.horizon,
        n_points=args.n_points,
        quantiles=levels(args.quantiles, "--quantiles", percent=False),
        coverage=(coverage[0] if len(coverage) == 1 else coverage) or None,
        n_samples=args.n_samples,
        series_per_batch=args.series_per_batch,
        progress=not args.quiet,
    )
    echo(
        f"{report.n_series} series in {report.n_partitions} partitions under {report.output}: "
        f"{len(report.written)} written, {len(report.skipped)} already complete "
        f"({report.seconds:.1f} s)"
    )
    return 0


def score(args: argparse.Namespace) -> int:
    import pandas as pd

    est = load_model(args.model, args.tracking_uri)
    df = read_frame(args.data, est.id_col, est.time_col, args.parse_dates)
    scores = est.score_samples(df, per=args.per, kind=args.kind)
    ids = pd.unique(df[est.id_col])
    frame = pd.DataFrame({est.id_col: ids, "log_likelihood": scores})
    write_frame(frame, args.output)
    echo(f"mean log-likelihood per observation: {est.score(df):.4f}; wrote {args.output}")
    return 0
