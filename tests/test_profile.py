"""``profile_model``: each node's time per call, the runtime's and MLflow's shares, shown as a
table sorted by time; ``%kedro_predict --profile`` shows it under the prediction."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def demo_model(demo, demo_sample) -> str:
    from kedro_mlflow_magic import log_pipeline_model

    info = log_pipeline_model(
        demo.pipelines["inference"], demo.catalog, "customers_to_score", demo_sample
    )
    return info.model_uri


def test_the_profile_names_every_node_with_its_share(demo, demo_sample, demo_model) -> None:
    from kedro_mlflow_magic import Profile, profile_model

    profile = profile_model(demo_model, demo_sample, repeat=3)
    assert isinstance(profile, Profile)
    node_names = [node.name for node in demo.pipelines["inference"].nodes]
    assert sorted(profile.nodes) == sorted(node_names)
    assert all(seconds > 0 for seconds in profile.nodes.values())
    assert profile.conversions == {}  # a pandas pipeline converts nothing
    rows = profile.rows()
    assert [row[2] for row in rows] == sorted((row[2] for row in rows), reverse=True)
    assert {kind for _, kind, _, _ in rows} == {"node", "runtime", "MLflow"}
    assert profile.total >= max(profile.nodes.values())
    text = str(profile)
    for name in node_names:
        assert name in text and name in profile._repr_html_()
    assert "share" in text and "runtime's own code" in text and "3 on 40 rows" in text


def test_a_model_not_ours_cannot_be_profiled(tmp_path) -> None:
    import mlflow
    import pandas as pd

    from kedro_mlflow_magic.errors import ProfileError
    from kedro_mlflow_magic.tracking.profile import profile_model

    class Echo(mlflow.pyfunc.PythonModel):
        # type hints, else MLflow warns at the class statement, past any warning filter
        def predict(self, context, model_input: list[str], params=None) -> list[str]:
            return model_input

    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="echo", python_model=Echo())
    with pytest.raises(ProfileError, match=r"cannot be profiled.*log it again"):
        profile_model(info.model_uri, pd.DataFrame({"a": [1]}))


def test_kedro_predict_profile_shows_the_table_under_the_prediction(
    demo, demo_sample, demo_model, project_notebook
) -> None:
    from IPython.utils.capture import capture_output

    shell = project_notebook(demo, frame=demo_sample)
    with capture_output() as captured:
        outcome = shell.run_cell(f"result = %kedro_predict {demo_model} --data frame --profile")
    outcome.raise_error()
    assert len(shell.user_ns["result"]) == len(demo_sample)
    # shown once the cell is done: the prediction's own output comes first
    [profile] = [output.data["text/plain"] for output in captured.outputs]
    for node in demo.pipelines["inference"].nodes:
        assert node.name in profile
    assert "share" in profile and "MLflow's input checks" in profile


def console_script(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    """``kedro-mlflow-magic ...`` in a process of its own."""
    environment = {
        **os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "MLFLOW_DISABLE_TELEMETRY": "true",
    }  # fmt: skip
    return subprocess.run(
        [str(Path(sys.executable).parent / "kedro-mlflow-magic"), *arguments],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.mark.slow
def test_the_shell_logs_a_traced_model_and_prints_its_profile(
    trained_demo: Path, tmp_path: Path
) -> None:
    import mlflow
    import pandas as pd

    logged = console_script(
        "log", "inference", "--input", "customers_to_score", "--sample", "customers",
        "--trace", "--project", str(trained_demo), cwd=tmp_path,
    )  # fmt: skip
    assert logged.returncode == 0, logged.stderr[-3000:]
    # the summary names the model it logged
    model_uri = re.search(r"models:/m-[0-9a-f]+", logged.stdout).group(0)
    assert mlflow.pyfunc.load_model(model_uri).unwrap_python_model().traced is True

    customers = pd.read_csv(trained_demo / "data" / "01_raw" / "customers.csv").head(20)
    data = tmp_path / "customers.csv"
    customers.to_csv(data, index=False)
    predicted = console_script(
        "predict", model_uri, "--data", str(data), "--profile",
        "--project", str(trained_demo), cwd=tmp_path,
    )  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    # the predictions stay clean CSV on stdout; the profile goes to stderr
    assert len(pd.read_csv(io.StringIO(predicted.stdout))) == 20
    for name in ("encode_features", "score_customers", "runtime's own code", "share"):
        assert name in predicted.stderr


def test_the_profile_shows_conversions_between_kinds_of_frames(make_project) -> None:
    pytest.importorskip("polars", reason="the polars extra is not installed")
    from kind_projects import polars_project, spark_trips
    from sessions import load_project

    from kedro_mlflow_magic import log_pipeline_model, profile_model

    project = load_project(polars_project(make_project))
    sample = project.catalog.load("trips")
    info = log_pipeline_model(project.pipelines["__default__"], project.catalog, "trips", sample)
    profile = profile_model(info.model_uri, spark_trips().head(3), repeat=2)
    assert sorted(profile.nodes) == ["label", "price"]
    # the caller's pandas frame into polars, and 'fares' into pandas for 'label'
    assert set(profile.conversions) == {"model input as polars", "fares as pandas"}
    assert {kind for _, kind, _, _ in profile.rows()} >= {"node", "conversion"}
