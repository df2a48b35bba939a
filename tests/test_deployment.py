"""From a logged model to where it runs
(docs/explanation/behaviour.md#will-it-serve-where-it-ships): ``mlflow models serve --workers 2``
under concurrent clients, the Dockerfile ``mlflow models generate-dockerfile`` writes (no Docker
daemon here: generated and read, not built), a batch job with ``mlflow models predict`` in an
environment of the model's own requirements (uv), and MLServer (the runtime behind KServe and
Seldon) in an environment of the model's requirements and MLServer's."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import psutil
import pytest
import requests
from servers import VENV_BIN, clean_environment, free_port, model_server, running_server

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
    from sessions import load_project

    from kedro_mlflow_magic import log_pipeline_model

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        project = load_project(trained_demo)
        frame = project.catalog.load("customers").drop(columns=["churned"]).head(12)
        info = log_pipeline_model(
            project.pipelines["inference"], project.catalog, "customers_to_score", frame,
            # pandas 2: what MLServer 1.7.1's codec can encode (see test_mlserver_...)
            extra_requirements=["sortedcontainers", "pandas>=2,<3"],
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


# MLServer and its MLflow runtime, with the pin its inference workers need (uvloop 0.23 makes
# them die at start: "There is no current event loop"); the README lists the versions tried.
MLSERVER = ("mlserver==1.7.1", "mlserver-mlflow==1.7.1", "uvloop<0.22")
V2_TYPES = {"i": "INT64", "f": "FP64", "b": "BOOL"}


def mlserver_environment(requirements: list[str]) -> Path:
    """A venv (uv) with the model's requirements and MLServer, kept in the user cache keyed by
    what it holds, so CI builds it once; a lock keeps concurrent runs from building it twice."""
    from filelock import FileLock

    from kedro_mlflow_magic.verify.environment_check import READY_MARKER, environments_root

    lines = sorted({*requirements, *MLSERVER})
    key = hashlib.sha256("\n".join([sys.version, *lines]).encode()).hexdigest()[:16]
    folder = environments_root() / "mlserver" / key
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{folder}.lock"):
        if not (folder / READY_MARKER).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            uv = str(VENV_BIN / "uv")
            subprocess.run([uv, "venv", "-q", str(folder), "--python", sys.executable], check=True)
            installed = subprocess.run(
                [uv, "pip", "install", "-q", "--python", str(folder / "bin" / "python"), *lines],
                capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            assert installed.returncode == 0, installed.stderr[-3000:]
            (folder / READY_MARKER).write_text("MLServer for the deployment tests\n")
    return folder


def v2_request(frame: pd.DataFrame) -> dict:
    """The frame as an Open Inference Protocol (V2) request that MLServer decodes as pandas."""
    inputs = []
    for column in frame.columns:
        values = frame[column]
        datatype = V2_TYPES.get(values.dtype.kind, "BYTES")
        inputs.append(
            {"name": column, "shape": [len(frame)], "datatype": datatype, "data": values.tolist()}
        )
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


def test_mlserver_serves_the_model_in_an_environment_of_its_requirements(
    logged_demo: LoggedDemo, tmp_path: Path
) -> None:
    """MLServer 1.7.1 with mlserver-mlflow 1.7.1 beside the supported MLflow: the model's
    requirements (pandas 2, added by hand, and checked in its own environment first) plus
    MLServer's; its V2 answers are the local model's."""
    import mlflow

    from kedro_mlflow_magic import check_environment

    assert check_environment(logged_demo.model_uri).agree  # pandas 2 there, 3 here
    model = Path(
        mlflow.artifacts.download_artifacts(logged_demo.model_uri, dst_path=str(tmp_path / "m"))
    )
    requirements = (model / "requirements.txt").read_text().split()
    assert "pandas<3,>=2" in requirements or "pandas>=2,<3" in requirements, requirements
    environment = mlserver_environment(requirements)
    settings = tmp_path / "mlserver"
    settings.mkdir()
    (settings / "model-settings.json").write_text(json.dumps({
        "name": "churn", "implementation": "mlserver_mlflow.MLflowRuntime",
        "parameters": {"uri": str(model)},
    }))  # fmt: skip

    def command(port: int) -> list[str]:
        (settings / "settings.json").write_text(json.dumps(
            {"http_port": port, "grpc_port": free_port(), "metrics_port": free_port()}
        ))  # fmt: skip
        return [str(environment / "bin" / "mlserver"), "start", str(settings)]

    frame = logged_demo.frame
    expected = mlflow.pyfunc.load_model(logged_demo.model_uri).predict(frame)
    with running_server(
        command, "/v2/models/churn/ready", tmp_path / "mlserver.log", cwd=tmp_path,
        env=clean_environment(logged_demo.tracking_uri),
    ) as server:  # fmt: skip
        response = requests.post(
            f"{server.url}/v2/models/churn/infer", json=v2_request(frame), timeout=120
        )
        assert response.status_code == 200, response.text[:3000]
        outputs = {output["name"]: output["data"] for output in response.json()["outputs"]}
    assert list(outputs) == list(expected.columns)
    assert outputs["customer_id"] == expected["customer_id"].tolist()
    assert outputs["label"] == expected["label"].tolist()
    assert outputs["churn_probability"] == pytest.approx(expected["churn_probability"].tolist())
