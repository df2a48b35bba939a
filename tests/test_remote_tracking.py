"""Logging to a remote tracking server (``mlflow server`` on 127.0.0.1): the model's artifacts go
to the server, and a fresh process that has only the server's URL loads and predicts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from servers import Server, predict_in_fresh_process
from servers import tracking_server as started_tracking_server

from kedro_mlflow_magic import log_pipeline_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with started_tracking_server(tmp_path_factory.mktemp("tracking-server")) as server:
        yield server


def test_log_and_predict_through_a_tracking_server(
    tracking_server: Server,
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
    artifacts = tracking_server.log.parent / "artifacts"  # the server keeps them there
    model_files = [path.name for path in artifacts.rglob("*") if path.is_file()]
    assert "MLmodel" in model_files, "the model's files should be stored by the server"

    local = mlflow.pyfunc.load_model(info.model_uri).predict(demo_sample, params={"threshold": 0.2})
    remote = predict_in_fresh_process(
        info.model_uri, demo_sample, tracking_server.url, tmp_path, params={"threshold": 0.2}
    )
    pd.testing.assert_frame_equal(remote, local, check_dtype=False)
