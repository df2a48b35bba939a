"""From a logged model to where it runs (SPEC 14): ``mlflow models serve --workers 2`` under
concurrent clients, the Dockerfile ``mlflow models generate-dockerfile`` writes (no Docker
daemon here: generated and read, not built), and a batch job with ``mlflow models predict`` in
an environment of the model's own requirements (uv)."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import psutil
import pytest
import requests
from servers import VENV_BIN, clean_environment, model_server, running_server

pytestmark = pytest.mark.slow

THRESHOLDS = (0.1, 0.3, 0.5, 0.7)


@dataclass(frozen=True)
class LoggedDemo:
    model_uri: str
    tracking_uri: str
    frame: pd.DataFrame


@pytest.fixture(scope="module")
def logged_demo(trained_demo: Path, mlflow_store: str) -> Iterator[LoggedDemo]:
    """The demo's inference model, logged once for the module with a requirement added by
    hand (it must reach the Dockerfile's model folder too)."""
    import mlflow
    from conftest import load_project

    from kedro_mlflow_magic import log_pipeline_model

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        project = load_project(trained_demo)
        frame = project.catalog.load("customers").drop(columns=["churned"]).head(12)
        info = log_pipeline_model(
            project.pipelines["inference"], project.catalog, "customers_to_score", frame,
            extra_requirements=["sortedcontainers"],
        )  # fmt: skip
        yield LoggedDemo(info.model_uri, mlflow_store, frame)
    mlflow.set_tracking_uri(None)


def mlflow_command(*arguments: str, cwd: Path, tracking_uri: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "mlflow"), *arguments], cwd=cwd, env=clean_environment(tracking_uri),
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def worker_processes(server: psutil.Process) -> list[psutil.Process]:
    """uvicorn's worker processes under ``mlflow models serve`` (multiprocessing spawns)."""
    return [
        child
        for child in server.children(recursive=True)
        if "spawn_main" in " ".join(child.cmdline())
    ]


def test_two_workers_serve_concurrent_clients_the_right_answers(
    logged_demo: LoggedDemo, tmp_path: Path
) -> None:
    """``mlflow models serve --workers 2``: each worker loads the model on its own; 8 clients
    send 800 one-row requests at once, each with its own threshold, each on a new connection
    (so both workers take them); every answer is the local model's for that row and threshold."""
    import mlflow

    local = mlflow.pyfunc.load_model(logged_demo.model_uri)
    frame = logged_demo.frame
    expected = {t: local.predict(frame, params={"threshold": t}) for t in THRESHOLDS}
    assert list(expected[0.1]["label"]) != list(expected[0.7]["label"])  # mix-ups would show
    requests_to_send = [(t, row) for t in THRESHOLDS for row in range(len(frame))]

    with running_server(
        model_server(logged_demo.model_uri, "--workers", "2"), "/ping", tmp_path / "server.log",
        cwd=tmp_path, env=clean_environment(logged_demo.tracking_uri),
    ) as server:  # fmt: skip

        def client(number: int) -> list[str]:
            wrong = []
            for request in range(100):
                threshold, row = requests_to_send[(number * 100 + request) % len(requests_to_send)]
                body = {
                    "dataframe_split": json.loads(frame.iloc[[row]].to_json(orient="split")),
                    "params": {"threshold": threshold},
                }
                response = requests.post(f"{server.url}/invocations", json=body, timeout=60)
                if response.status_code != 200:
                    wrong.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                answer = response.json()["predictions"][0]
                right = expected[threshold].iloc[row]
                if (answer["customer_id"], answer["label"]) != (
                    right["customer_id"], right["label"],
                ):  # fmt: skip
                    wrong.append(f"row {row}, threshold {threshold}: {answer}")
            return wrong

        with ThreadPoolExecutor(max_workers=8) as pool:
            failures = [failure for found in pool.map(client, range(8)) for failure in found]
        assert failures == [], failures[:5]
        workers = worker_processes(psutil.Process(server.process.pid))
        assert len(workers) == 2 and all(worker.is_running() for worker in workers)
        assert server.process.poll() is None


def test_the_generated_dockerfile_installs_the_models_requirements(
    logged_demo: LoggedDemo, tmp_path: Path
) -> None:
    """``mlflow models generate-dockerfile``: a python image of the model's Python, MLflow of
    the model's version, and the model folder (its code, artifacts and requirements, the one
    added by hand included) installed with the model's requirements."""
    import mlflow

    output = tmp_path / "image"
    finished = mlflow_command(
        "models", "generate-dockerfile", "-m", logged_demo.model_uri, "-d", str(output),
        cwd=tmp_path, tracking_uri=logged_demo.tracking_uri,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    dockerfile = (output / "Dockerfile").read_text()
    assert f"FROM python:{platform.python_version()}-slim" in dockerfile
    assert f"pip install mlflow=={version('mlflow')}" in dockerfile
    assert "COPY model_dir /opt/ml/model" in dockerfile
    assert "_install_pyfunc_deps('/opt/ml/model'" in dockerfile  # pip install -r requirements

    model_dir = output / "model_dir"
    ours = Path(
        mlflow.artifacts.download_artifacts(logged_demo.model_uri, dst_path=str(tmp_path / "m"))
    )
    requirements = (model_dir / "requirements.txt").read_text().split()
    assert requirements == (ours / "requirements.txt").read_text().split()
    for distribution in ("kedro", "kedro-datasets", "mlflow", "scikit-learn", "sortedcontainers"):
        assert f"{distribution}=={version(distribution)}" in requirements, requirements
    shipped = {path.name for path in (model_dir / "code").iterdir()}
    assert "churn_demo" in shipped
    assert any(name.startswith("kedro_mlflow_magic_runtime_") for name in shipped)
    assert (model_dir / "artifacts" / "classifier").is_dir()


def test_a_batch_job_predicts_in_the_models_own_environment(
    logged_demo: LoggedDemo, tmp_path: Path
) -> None:
    """``mlflow models predict --env-manager uv``: a CSV in, the model's answers out, computed
    in an environment MLflow builds from the model's requirements (nothing of this one)."""
    import mlflow

    source = tmp_path / "customers.csv"
    logged_demo.frame.to_csv(source, index=False)
    target = tmp_path / "predictions.json"
    finished = mlflow_command(
        "models", "predict", "-m", logged_demo.model_uri, "-i", str(source), "-t", "csv",
        "-o", str(target), "--env-manager", "uv",
        cwd=tmp_path, tracking_uri=logged_demo.tracking_uri,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    predicted = pd.DataFrame(json.loads(target.read_text())["predictions"])
    expected = mlflow.pyfunc.load_model(logged_demo.model_uri).predict(pd.read_csv(source))
    assert predicted["label"].tolist() == expected["label"].tolist()
    assert predicted["churn_probability"].tolist() == pytest.approx(
        expected["churn_probability"].tolist()
    )
