"""The console script: demo, fit, predict, score (run in-process through main())."""

from __future__ import annotations

import json

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
    metrics = json.loads((out / "metrics.json").read_text())
    for task in ("interpolation", "extrapolation"):
        assert set(metrics["mse"][task]) == {"latent ODE", "linear interpolation", "last value"}
    assert (out / "forecast.png").stat().st_size > 10_000
    assert (out / "model" / "latentode.json").is_file()


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
