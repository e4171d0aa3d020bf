"""Command line: ``latentode demo | fit | predict | evaluate | batch-predict | score | …``.

``latentode demo`` fits a forecaster on a bundled (or a real) irregular dataset, scores it
beside the four baselines on held-out values (interpolation) and on each test series' last
20 % of timestamps (extrapolation), and writes a forecast plot, the metrics and the model
to ``--out``.
The other commands take long-format files (CSV or parquet: an id column, a time column,
one column per feature, NaN where a feature was not observed).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

logger = logging.getLogger("latentode.cli")

EXAMPLES = {
    "demo": """examples:
  latentode demo                                   # pbcseq clinic visits (extra 'real'), 90 s
  latentode demo --dataset periodic_irregular      # the bundled toy, no extra needed
  latentode demo --dataset sensors_irregular --max-time 30 --out demo-sensors""",
    "fit": """examples:
  latentode fit --data train.parquet --model model/
  latentode fit --data train.csv --model model/ --config params.yaml
  latentode fit --data train.csv --model model/ --params '{"max_epochs": 50}' \\
      --checkpoint-dir ckpt/ --resume

--config holds LatentODEForecaster parameters as a JSON or YAML mapping, e.g.
  max_time: 300
  static_cols: [age, sex]
--params (JSON) overrides it key by key.""",
    "predict": """examples:
  latentode predict --model model/ --data history.parquet --horizon 5 --n-points 20 \\
      --quantiles 0.1,0.5,0.9 --coverage 80,95 --output forecast.parquet
  latentode predict --model models:/latentode-forecaster@champion --data history.csv \\
      --at queries.csv --output forecast.csv

Columns: the mean <feature>, then <feature>_q<level> per --quantiles level, then the
interval bounds: <feature>_lower/_upper for one --coverage level, <feature>_lower_80,
<feature>_upper_80, ... for several.""",
    "evaluate": """examples:
  latentode evaluate --model model/ --data test.parquet --task extrapolation \\
      --baselines --output metrics.json --plot forecast.png
  latentode evaluate --model model/ --data test.csv --task interpolation --fraction 0.3 \\
      --baselines last_value,linear --baseline-train train.csv""",
    "batch-predict": """examples:
  latentode batch-predict --model models:/latentode-forecaster@champion \\
      --data history/ --output forecasts/ --horizon 5 --quantiles 0.1,0.9

Reads the parquet files under --data lazily, --series-per-batch whole series at a time,
and writes forecasts/part-00000.parquet, ... Re-run the same command after a crash: only
the missing partitions are written.""",
    "score": """examples:
  latentode score --model model/ --data series.parquet --output scores.csv
  latentode score --model model/ --data series.parquet --per observation --output s.csv""",
    "register": """examples:
  latentode register --model model/ --name latentode-forecaster --metrics metrics.json
  latentode register --model model/ --name latentode-forecaster --alias challenger \\
      --tracking-uri sqlite:///mlflow.db""",
    "promote": """examples:
  latentode promote --name latentode-forecaster --metric eval_extrapolation_crps
  latentode promote --name latentode-forecaster --version 3 --min-delta 0.001""",
}


def _command(sub: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    return parser


def _data_args(p: argparse.ArgumentParser, help: str = "long-format CSV or parquet file") -> None:
    p.add_argument("--data", required=True, help=help)
    p.add_argument("--parse-dates", action="store_true", help="the time column holds dates")


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        required=True,
        help="saved model directory, or an MLflow URI such as models:/NAME@champion",
    )


def _tracking_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )


def build_parser() -> argparse.ArgumentParser:
    from latentode._version import __version__
    from latentode.cli import _commands, _demo, _evaluate, _registry

    parser = argparse.ArgumentParser(
        prog="latentode",
        description=__doc__.splitlines()[0].replace("``", ""),
        epilog="Run 'latentode COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"latentode {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _command(
        sub, "demo", "fit on a bundled or real dataset, score it beside every baseline, plot"
    )
    demo.add_argument(
        "--dataset",
        default="pbcseq",
        help="a real dataset (pbcseq, the default, nafld, remifentanil, flights: extra "
        "'real') or a bundled one (periodic_irregular, sensors_irregular)",
    )
    demo.add_argument("--out", default="latentode-demo", help="output directory")
    demo.add_argument("--max-epochs", type=int, default=2000)
    demo.add_argument("--max-time", type=float, default=90.0, help="training seconds")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    demo.set_defaults(func=_demo.demo)

    fit = _command(sub, "fit", "fit a LatentODEForecaster on a long-format file and save it")
    _data_args(fit)
    fit.add_argument("--model", required=True, help="directory to save the model to")
    fit.add_argument("--id-col", default="unique_id")
    fit.add_argument("--time-col", default="ds")
    fit.add_argument("--config", help="JSON or YAML file of LatentODEForecaster parameters")
    fit.add_argument("--params", help="JSON of parameters, e.g. '{\"max_epochs\": 50}'")
    fit.add_argument("--checkpoint-dir", help="checkpoint every epoch into this directory")
    fit.add_argument("--resume", action="store_true", help="resume from --checkpoint-dir")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="train data-parallel on N processes of this machine (torchrun; one GPU each "
        "with device cuda); several machines: run 'torchrun ... -m latentode.cli fit' on each",
    )
    fit.set_defaults(func=_commands.fit)

    pred = _command(sub, "predict", "forecast with a saved or registered model")
    _data_args(pred, "history: long-format CSV or parquet file")
    _model_arg(pred)
    pred.add_argument("--at", help="file of (id, time) rows to forecast at")
    pred.add_argument("--horizon", type=float, help="forecast this far past each series' end")
    pred.add_argument("--n-points", type=int, default=10, help="times per series with --horizon")
    pred.add_argument("--quantiles", help="quantile levels, e.g. 0.1,0.5,0.9")
    pred.add_argument("--coverage", help="central interval levels in percent, e.g. 80,95")
    pred.add_argument("--n-samples", type=int, help="predictive draws (default: the model's)")
    pred.add_argument("--output", required=True, help="CSV or .parquet file to write")
    _tracking_arg(pred)
    pred.set_defaults(func=_commands.predict)

    ev = _command(sub, "evaluate", "score a model on held-out values, baselines beside it")
    _data_args(ev, "series to evaluate on (long-format CSV or parquet)")
    _model_arg(ev)
    ev.add_argument("--task", choices=["extrapolation", "interpolation"], default="extrapolation")
    ev.add_argument("--fraction", type=float, default=0.2, help="share of each series hidden")
    ev.add_argument(
        "--baselines",
        nargs="?",
        const="all",
        help=f"score baselines too: all (the default) or some of {','.join(_evaluate.BASELINES)}",
    )
    ev.add_argument("--baseline-train", help="fit the baselines on this file instead")
    ev.add_argument("--coverage", default="80", help="interval level in percent (default 80)")
    ev.add_argument("--n-samples", type=int, default=100, help="draws for CRPS (default 100)")
    ev.add_argument("--seed", type=int, default=0, help="which values interpolation hides")
    ev.add_argument("--output", help="metrics JSON file to write")
    ev.add_argument("--plot", help="image file of a few series' forecasts")
    _tracking_arg(ev)
    ev.set_defaults(func=_evaluate.evaluate)

    bp = _command(sub, "batch-predict", "forecast a parquet data set batch by batch, resumably")
    _data_args(bp, "history: a parquet file or a directory of them")
    _model_arg(bp)
    bp.add_argument("--output", required=True, help="directory of forecast partitions")
    bp.add_argument("--horizon", type=float, required=True, help="forecast this far ahead")
    bp.add_argument("--n-points", type=int, default=10, help="forecast times per series")
    bp.add_argument("--quantiles", help="quantile levels, e.g. 0.1,0.5,0.9")
    bp.add_argument("--coverage", help="central interval levels in percent, e.g. 80,95")
    bp.add_argument("--n-samples", type=int, help="predictive draws (default: the model's)")
    bp.add_argument("--series-per-batch", type=int, default=1000, help="default 1000")
    _tracking_arg(bp)
    bp.set_defaults(func=_commands.batch)

    score = _command(sub, "score", "per-series log-likelihood scores (density scores)")
    _data_args(score)
    _model_arg(score)
    score.add_argument("--per", choices=["series", "observation"], default="series")
    score.add_argument(
        "--kind",
        choices=["auto", "joint", "predictive"],
        default="auto",
        help="joint IWAE bound or cross-fitted predictive score (auto: by the model's head)",
    )
    score.add_argument("--output", required=True, help="CSV or .parquet file to write")
    _tracking_arg(score)
    score.set_defaults(func=_commands.score)

    reg = _command(sub, "register", "log a saved model to MLflow and register a version")
    reg.add_argument("--model", required=True, help="saved model directory")
    reg.add_argument("--name", required=True, help="registered model name")
    reg.add_argument("--metrics", help="'latentode evaluate --output' report to log")
    reg.add_argument("--alias", help="point this alias at the new version")
    reg.add_argument("--example", help="history file whose first series are the input example")
    reg.add_argument("--experiment", default="latentode", help="MLflow experiment name")
    reg.add_argument("--run-name", help="MLflow run name (default register-NAME)")
    _tracking_arg(reg)
    reg.set_defaults(func=_registry.register)

    pro = _command(sub, "promote", "make a version champion if its metric beats the champion's")
    pro.add_argument("--name", required=True, help="registered model name")
    pro.add_argument("--version", default="latest", help="candidate version (default latest)")
    pro.add_argument("--metric", default="eval_extrapolation_crps", help="run metric to compare")
    pro.add_argument("--greater-is-better", action="store_true")
    pro.add_argument("--min-delta", type=float, default=0.0, help="improvement required")
    _tracking_arg(pro)
    pro.set_defaults(func=_registry.promote)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    level = logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.quiet:
        # MLflow logs through its own handlers and draws download bars: quiet means quiet.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        logging.getLogger("mlflow").setLevel(logging.ERROR)
    from latentode.exceptions import LatentODEError

    try:
        return int(args.func(args))
    except (LatentODEError, FileNotFoundError) as exc:
        # Errors we raise for the user are complete messages: no stack trace.
        sys.stderr.write(f"latentode {args.command}: error: {exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
