"""The shell command as a user runs it (subprocesses): ``kedro mlflow-magic ...`` from a
subfolder of the project, ``kedro-mlflow-magic ... --project PATH`` from outside it, with its
bad inputs (exit 2, one line, no traceback unless --verbose) and failures (exit 1)."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest

BIN = Path(sys.executable).parent


def shell(
    arguments: list[str], cwd: Path, env_overrides: dict[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **(env_overrides or {}),
    }
    return subprocess.run(
        arguments, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, **kwargs
    )


def kedro(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    """``kedro mlflow-magic ...``: the Kedro project command."""
    return shell([str(BIN / "kedro"), "mlflow-magic", *arguments], cwd)


def script(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    """``kedro-mlflow-magic ...``: the console script."""
    return shell([str(BIN / "kedro-mlflow-magic"), *arguments], cwd)


def error_lines(finished: subprocess.CompletedProcess) -> list[str]:
    return [line for line in finished.stderr.splitlines() if line.strip()]


@pytest.fixture
def inside(trained_demo: Path) -> Path:
    """A subfolder of the trained demo project."""
    folder = trained_demo / "notebooks"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def customers_csv(trained_demo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    customers = pd.read_csv(trained_demo / "data" / "01_raw" / "customers.csv")
    customers.drop(columns=["churned"]).head(30).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_inputs_from_a_subfolder_as_a_kedro_command(inside: Path) -> None:
    finished = kedro("inputs", "inference", "--input", "customers_to_score", cwd=inside)
    assert finished.returncode == 0, finished.stderr[-3000:]
    # (Kedro's CLI itself logs which logging configuration it uses before any command)
    table = finished.stdout[finished.stdout.index("customers_to_score  data input") :]
    rows = {line.split()[0]: line.split()[1] for line in table.splitlines()[:5]}
    assert rows["customers_to_score"] == "data"
    assert rows["encoder"] == rows["classifier"] == "artifact"
    assert rows["params:threshold"] == "parameter"


@pytest.mark.slow
def test_inputs_from_outside_with_project(trained_demo: Path, tmp_path: Path) -> None:
    finished = script("inputs", "inference", "--project", str(trained_demo), cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "customers_to_score" in finished.stdout and "artifact" in finished.stdout
    assert finished.stderr.strip() == ""  # Kedro's and MLflow's INFO logs are quiet


@pytest.mark.slow
def test_log_from_a_subfolder_then_predict_from_outside(
    trained_demo: Path, inside: Path, tmp_path: Path
) -> None:
    import mlflow

    name = f"churn_{uuid.uuid4().hex[:8]}"
    logged = kedro(
        "log", "inference", "--input", "customers_to_score", "--sample", "customers",
        "--register", name, "--alias", "champion", cwd=inside,
    )  # fmt: skip
    assert logged.returncode == 0, logged.stderr[-3000:]
    version = mlflow.MlflowClient().get_model_version_by_alias(name, "champion")
    assert int(version.version) == 1
    assert version.source in logged.stdout  # the summary names the model
    assert logged.stderr.strip() == ""  # piped: no progress

    # predict from outside the project, to stdout as CSV, with a typed parameter override
    # (logged with the catalog's customers as the sample, the model takes their columns)
    customers = pd.read_csv(trained_demo / "data" / "01_raw" / "customers.csv").head(30)
    customers_csv = tmp_path / "customers_with_label.csv"
    customers.to_csv(customers_csv, index=False)
    predicted = script(
        "predict", f"models:/{name}@champion", "--data", str(customers_csv),
        "--params", "threshold=0.2", "--project", str(trained_demo), cwd=tmp_path,
    )  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    printed = pd.read_csv(io.StringIO(predicted.stdout))
    model = mlflow.pyfunc.load_model(f"models:/{name}/1")
    frame = pd.read_csv(customers_csv)
    expected = model.predict(frame, params={"threshold": 0.2})
    assert list(printed["label"]) == list(expected["label"])
    assert printed["churn_probability"].tolist() == pytest.approx(
        expected["churn_probability"].tolist()
    )

    # predict from inside into a parquet file
    target = tmp_path / "predictions.parquet"
    written = script(
        "predict", f"models:/{name}/1", "--data", str(customers_csv), "--output", str(target),
        cwd=inside,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr[-3000:]
    assert written.stdout == ""
    assert list(pd.read_parquet(target)["label"]) == list(model.predict(frame)["label"])

    # an unknown parameter is the user's mistake: one line, exit 2
    wrong = script(
        "predict", f"models:/{name}/1", "--data", str(customers_csv), "--params", "treshold=1",
        cwd=inside,
    )  # fmt: skip
    assert wrong.returncode == 2
    lines = error_lines(wrong)
    assert len(lines) == 1, wrong.stderr
    assert lines[0].startswith("Error: --params: unknown parameter 'treshold'")


@pytest.mark.slow
def test_log_from_outside_with_a_file_sample_shows_progress_on_a_terminal(
    trained_demo: Path, customers_csv: Path, tmp_path: Path
) -> None:
    import mlflow

    main, terminal = pty.openpty()
    try:
        finished = subprocess.run(
            [
                str(BIN / "kedro-mlflow-magic"), "log", "inference",
                "--input", "customers_to_score", "--sample", str(customers_csv),
                "--run-name", "from the shell", "--project", str(trained_demo),
            ],
            cwd=tmp_path,
            env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=600,
        )  # fmt: skip
        os.close(terminal)
        progress = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            progress += chunk
    finally:
        os.close(main)
    assert finished.returncode == 0, progress.decode()[-3000:]
    shown = progress.decode()
    for step in ("opening the Kedro project", "inferring the signature", "verifying"):
        assert f"... {step}" in shown
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert any(run.info.run_name == "from the shell" for run in runs)


BAD_INPUTS = [
    (["inputs", "nowhere"], "unknown pipeline 'nowhere'; the project's pipelines are: "
     "__default__, inference, training"),
    (["log", "inference", "--input", "customers_to_score", "--sample", "missing.csv"],
     "--sample missing.csv: no such file"),
    (["log", "inference", "--input", "customer_to_score", "--sample", "customers"],
     "'customer_to_score' is not a free input of the pipeline"),
    (["log", "inference", "--alias", "champion"],
     "the alias 'champion' needs a registered model"),
    (["log", "inference", "--example-rows", "many"], "'many' is not a valid integer"),
    (["log", "inference", "--requirement", "no-such-package-kmm"],
     "requirement 'no-such-package-kmm' is not installed here"),
    (["check", "models:/churn/1", "--env-manager", "conda"], "Invalid value for '--env-manager'"),
    (["predict", "models:/churn/1"], "Missing option '--data'"),
    (["predict", "models:/churn/1", "--data", "frame.txt"], "--data frame.txt: give a file "
     "ending in .csv, .parquet"),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("arguments", "message"), BAD_INPUTS)
def test_a_bad_input_is_one_line_and_exit_code_2(
    trained_demo: Path, tmp_path: Path, arguments: list[str], message: str
) -> None:
    finished = script(*arguments, "--project", str(trained_demo), cwd=tmp_path)
    assert finished.returncode == 2, finished.stderr[-3000:]
    lines = error_lines(finished)
    assert len(lines) == 1, finished.stderr
    assert lines[0].startswith("Error: ") and message in lines[0]
    assert "Traceback" not in finished.stderr


@pytest.mark.slow
def test_outside_a_project_without_project_is_one_line(tmp_path: Path) -> None:
    finished = script("inputs", "inference", cwd=tmp_path)
    assert finished.returncode == 2
    assert error_lines(finished) == [
        "Error: the current folder is not inside a Kedro project (no pyproject.toml with a "
        "[tool.kedro] table at or above it); run from inside the project or pass --project PATH"
    ]


@pytest.mark.slow
def test_verbose_shows_the_traceback_and_the_kedro_command_says_one_line(
    trained_demo: Path, inside: Path, tmp_path: Path
) -> None:
    verbose = script("inputs", "nowhere", "--project", str(trained_demo), "--verbose", cwd=tmp_path)
    assert verbose.returncode == 2
    assert "Traceback (most recent call last)" in verbose.stderr
    assert error_lines(verbose)[-1].startswith("Error: unknown pipeline 'nowhere'")

    quiet = kedro("inputs", "nowhere", cwd=inside)
    assert quiet.returncode == 2
    assert "Traceback" not in quiet.stderr + quiet.stdout
    assert error_lines(quiet)[-1].startswith("Error: unknown pipeline 'nowhere'")


@pytest.mark.slow
def test_a_pipeline_that_fails_on_the_sample_is_a_failure_exit_code_1(
    trained_demo: Path, customers_csv: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "no_plan.csv"
    pd.read_csv(customers_csv).drop(columns=["plan"]).to_csv(broken, index=False)
    finished = script(
        "log", "inference", "--input", "customers_to_score", "--sample", str(broken),
        "--project", str(trained_demo), cwd=tmp_path,
    )  # fmt: skip
    assert finished.returncode == 1
    lines = error_lines(finished)
    assert len(lines) == 1, finished.stderr
    assert lines[0].startswith("Error: node 'encode_features' failed: KeyError: ")


@pytest.mark.slow
def test_a_parity_failure_is_one_line_exit_code_1_and_leaves_no_ready_model(
    make_project, tmp_path: Path
) -> None:
    import mlflow
    from mlflow.entities import LoggedModelStatus

    root = make_project(
        nodes="import numpy as np\n\n\ndef jitter(frame):\n"
        "    return frame.assign(y=np.random.default_rng().random(len(frame)))\n",
        pipelines='return {"flow": pipeline([node(nodes.jitter, "frame", "out")])}',
    )
    sample = tmp_path / "frame.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0]}).to_csv(sample, index=False)
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    finished = shell(
        [str(BIN / "kedro-mlflow-magic"), "log", "flow", "--input", "frame", "--sample",
         str(sample), "--project", str(root)],
        tmp_path, env_overrides={"MLFLOW_TRACKING_URI": store},
    )  # fmt: skip
    assert finished.returncode == 1, finished.stderr
    lines = error_lines(finished)
    assert len(lines) == 1, finished.stderr
    assert lines[0].startswith("Error: the reloaded model disagrees with the pipeline"), lines
    client = mlflow.MlflowClient(tracking_uri=store)
    models = [
        model
        for experiment in client.search_experiments()
        for model in client.search_logged_models([experiment.experiment_id])
    ]
    assert models and all(model.status == LoggedModelStatus.FAILED for model in models)
