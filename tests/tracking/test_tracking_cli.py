"""The CLI workflow end to end: fit (parquet) → evaluate → register → promote → predict by alias."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from latentode.cli import main


def _run(capsys: pytest.CaptureFixture, *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_fit_evaluate_register_promote_predict_by_alias(
    tracking_uri: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    series_maker: Any,
    unique_name: Any,
) -> None:
    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    series_maker(24, seed=0).to_parquet(train)
    series_maker(10, seed=1, prefix="t").to_parquet(test)
    config = tmp_path / "params.yaml"
    config.write_text("max_epochs: 2\nlatent_dim: 3\nencoder_hidden_dim: 8\nmethod: rk4\n")
    model = tmp_path / "model"
    _run(
        capsys,
        "fit",
        "--data",
        str(train),
        "--model",
        str(model),
        "--config",
        str(config),
        "--quiet",
    )

    metrics, plot = tmp_path / "metrics.json", tmp_path / "forecast.png"
    args = ["--model", str(model), "--data", str(test), "--task", "extrapolation"]
    table = _run(
        capsys, "evaluate", *args, "--baselines", "--output", str(metrics), "--plot", str(plot)
    )
    report = json.loads(metrics.read_text())
    methods = ["latent ODE", "last_value", "linear", "gp", "gradient_boosting"]
    assert list(report["metrics"]) == methods
    assert all(name in table for name in methods)
    n_hidden = report["n_hidden_values"]
    assert n_hidden == report["metrics"]["last_value"]["n"] > 0
    for scores in report["metrics"].values():
        assert set(scores) == {"mse", "mae", "crps", "pinball", "coverage", "n"}
        assert all(np.isfinite(v) for v in scores.values())
    # Last value carried forward and linear extrapolation (flat beyond the last point) are
    # the same point forecast: the scores must show it (a wiring check on real numbers).
    assert report["metrics"]["linear"]["mse"] == pytest.approx(
        report["metrics"]["last_value"]["mse"]
    )
    assert report["best_baseline"]["mse"] in methods[1:]
    assert plot.stat().st_size > 10_000

    name = unique_name("cli")
    common = ["--name", name, "--tracking-uri", tracking_uri, "--quiet"]
    out = _run(capsys, "register", "--model", str(model), "--metrics", str(metrics), *common)
    assert f"{name!r} version 1" in out
    out = _run(capsys, "promote", *common)
    assert "version 1 is champion" in out

    # A second version whose report is worse stays challenger; a better one takes over.
    for version, delta, verdict in ((2, 1.0, "stays challenger"), (3, -0.01, "is champion")):
        changed = json.loads(metrics.read_text())
        changed["metrics"]["latent ODE"]["crps"] += delta
        path = tmp_path / f"metrics{version}.json"
        path.write_text(json.dumps(changed))
        _run(capsys, "register", "--model", str(model), "--metrics", str(path), *common)
        out = _run(capsys, "promote", *common)
        assert f"version {version} {verdict}" in out, out

    by_alias, by_dir = tmp_path / "alias.parquet", tmp_path / "dir.parquet"
    ask = ["--data", str(test), "--horizon", "1.5", "--n-points", "3", "--quantiles", "0.1,0.9"]
    ask += ["--coverage", "80,95", "--quiet"]
    uri = f"models:/{name}@champion"
    _run(
        capsys,
        "predict",
        "--model",
        uri,
        *ask,
        "--output",
        str(by_alias),
        "--tracking-uri",
        tracking_uri,
    )
    _run(capsys, "predict", "--model", str(model), *ask, "--output", str(by_dir))
    got, want = pd.read_parquet(by_alias), pd.read_parquet(by_dir)
    assert list(got.columns) == [
        "unique_id",
        "ds",
        "y",
        "y_q0.1",
        "y_q0.9",
        "y_lower_80",
        "y_upper_80",
        "y_lower_95",
        "y_upper_95",
    ]
    pd.testing.assert_frame_equal(got, want)


def test_registry_errors_exit_2_with_one_line(
    tracking_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture, unique_name: Any
) -> None:
    missing = unique_name("missing")
    data = tmp_path / "d.csv"
    pd.DataFrame({"unique_id": ["a", "a"], "ds": [0.0, 1.0], "y": [1.0, 2.0]}).to_csv(data)
    ask = ["--horizon", "1", "--output", str(tmp_path / "o.csv")]
    cases = [
        (["promote", "--name", missing], f"Registered model {missing!r} has no versions"),
        (
            ["predict", "--model", f"models:/{missing}@champion", "--data", str(data), *ask],
            "Cannot fetch 'MLmodel'",
        ),
        (
            ["register", "--model", str(tmp_path), "--name", missing, "--metrics", str(data)],
            "is not a report written by 'latentode evaluate --output'",
        ),
    ]
    for argv, expected in cases:
        code = main([*argv, "--tracking-uri", tracking_uri, "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and expected in err, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_a_tampered_registered_estimator_is_refused(
    registered: dict, tmp_path: Path, series: pd.DataFrame
) -> None:
    import mlflow

    from latentode.exceptions import ModelFileError
    from latentode.tracking import load_estimator

    uri = f"models:/{registered['name']}@champion"
    est = load_estimator(uri)
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path)))
    np.testing.assert_array_equal(
        est.predict(series, horizon=1.0, n_points=2)["y"],
        registered["estimator"].predict(series, horizon=1.0, n_points=2)["y"],
    )
    config = local / "artifacts" / "estimator" / "latentode.json"
    config.write_text(config.read_text() + " ")  # one byte more: same JSON, other digest
    with pytest.raises(ModelFileError, match="differ from the digests"):
        load_estimator(str(local))
