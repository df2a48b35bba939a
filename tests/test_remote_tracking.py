"""Logging to a remote tracking server (``mlflow server`` on 127.0.0.1): the model's artifacts go
to the server, and a fresh process that has only the server's URL loads and predicts."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from test_serving import VENV_BIN, clean_environment, free_port, stop, wait_for_http

from kedro_mlflow_magic import log_pipeline_model

pytestmark = pytest.mark.slow

LOAD_AND_PREDICT = """
import sys
import mlflow, pandas as pd
frame = pd.read_json(sys.stdin, orient="split")
model = mlflow.pyfunc.load_model(sys.argv[1])
print(model.predict(frame, params={"threshold": 0.2}).to_json(orient="split"))
"""


@dataclass(frozen=True)
class TrackingServer:
    url: str
    artifacts: Path
    backend: Path


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    folder = tmp_path_factory.mktemp("tracking-server")
    port = free_port()
    server = TrackingServer(f"http://127.0.0.1:{port}", folder / "artifacts", folder / "mlflow.db")
    command = [
        str(VENV_BIN / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{server.backend}",
        "--artifacts-destination", str(server.artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = folder / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=clean_environment(""),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_http(f"{server.url}/health", process, log)
        yield server
    finally:
        stop(process)


def test_log_and_predict_through_a_tracking_server(
    tracking_server: TrackingServer,
    demo,
    demo_sample: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server.url)
    info = log_pipeline_model(
        demo.pipelines["inference"], demo.catalog, "customers_to_score", demo_sample
    )

    run = mlflow.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    experiment = mlflow.get_experiment(run.info.experiment_id)
    assert experiment.name == demo.package
    assert experiment.artifact_location.startswith("mlflow-artifacts:"), "artifacts stay remote"
    model_files = [path.name for path in tracking_server.artifacts.rglob("*") if path.is_file()]
    assert "MLmodel" in model_files, "the model's files should be stored by the server"

    local = mlflow.pyfunc.load_model(info.model_uri).predict(demo_sample, params={"threshold": 0.2})
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, info.model_uri],
        input=demo_sample.to_json(orient="split"),
        cwd=tmp_path,
        env=clean_environment(tracking_server.url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    remote = pd.read_json(io.StringIO(loaded.stdout.strip().splitlines()[-1]), orient="split")
    pd.testing.assert_frame_equal(remote, local, check_dtype=False)
