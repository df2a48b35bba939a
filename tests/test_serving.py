"""The logged demo model served by ``mlflow models serve``: same predictions over HTTP as locally,
clear 4xx answers for bad requests, and a server that keeps serving after them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import requests
from projects import DEMO_OVERRIDES
from servers import Server, clean_environment, model_server, running_server

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class LoggedDemo:
    """The demo inference model, logged once for the module, and a frame to score."""

    model_uri: str
    tracking_uri: str
    package: str
    frame: pd.DataFrame


@pytest.fixture(scope="module")
def logged_demo(trained_demo: Path, mlflow_store: str) -> Iterator[LoggedDemo]:
    import mlflow
    from sessions import load_project

    from kedro_mlflow_magic import log_pipeline_model

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        project = load_project(trained_demo)
        frame = project.catalog.load("customers").drop(columns=["churned"]).head(12)
        info = log_pipeline_model(
            project.pipelines["inference"], project.catalog, "customers_to_score", frame
        )
        yield LoggedDemo(info.model_uri, mlflow_store, project.package, frame)
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def outside_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outside-the-project")


@pytest.fixture(scope="module")
def server(logged_demo: LoggedDemo, outside_folder: Path) -> Iterator[Server]:
    with running_server(
        model_server(logged_demo.model_uri), "/ping", outside_folder / "server.log", cwd=outside_folder,
        env=clean_environment(logged_demo.tracking_uri),
    ) as running:  # fmt: skip
        yield running
    assert running.process.poll() is not None


@pytest.fixture(scope="module")
def local_model(logged_demo: LoggedDemo):
    import mlflow

    return mlflow.pyfunc.load_model(logged_demo.model_uri)


def invoke(server: Server, body: str, content_type: str = "application/json") -> requests.Response:
    return requests.post(
        f"{server.url}/invocations", data=body, headers={"Content-Type": content_type}, timeout=60
    )


def served_frame(response: requests.Response) -> pd.DataFrame:
    assert response.status_code == 200, response.text
    return pd.DataFrame(response.json()["predictions"])


def json_body(frame: pd.DataFrame, orient: str, params: dict | None) -> str:
    key = {"split": "dataframe_split", "records": "dataframe_records"}[orient]
    body: dict = {key: json.loads(frame.to_json(orient=orient))}
    if params is not None:
        body["params"] = params
    return json.dumps(body)


def test_the_project_package_is_not_importable_where_the_server_runs(
    logged_demo: LoggedDemo, outside_folder: Path
):
    probe = subprocess.run(
        [sys.executable, "-c", f"import {logged_demo.package}"],
        cwd=outside_folder,
        env=clean_environment(logged_demo.tracking_uri),
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0
    assert "ModuleNotFoundError" in probe.stderr


@pytest.mark.parametrize("orient", ["split", "records"])
@pytest.mark.parametrize("params", [None, DEMO_OVERRIDES], ids=["defaults", "overrides"])
def test_json_predictions_over_http_equal_local_ones(
    server: Server, local_model, logged_demo: LoggedDemo, orient: str, params: dict | None
):
    frame = logged_demo.frame
    served = served_frame(invoke(server, json_body(frame, orient, params)))
    local = local_model.predict(frame, params=params)
    pd.testing.assert_frame_equal(served, local.reset_index(drop=True), check_dtype=False)
    if params:
        assert set(served["label"]) <= {"leaving", "stay"}
        assert "leaving" in set(served["label"])


def test_csv_predictions_over_http_equal_local_ones(
    server: Server, local_model, logged_demo: LoggedDemo
):
    frame = logged_demo.frame
    served = served_frame(invoke(server, frame.to_csv(index=False), "text/csv"))
    pd.testing.assert_frame_equal(served, local_model.predict(frame), check_dtype=False)


def test_malformed_json_is_a_400_that_says_so(server: Server):
    response = invoke(server, '{"dataframe_split": {"columns": ["customer_id"], "data": [[1]')
    assert response.status_code == 400
    assert "valid JSON" in response.json()["message"]


def test_a_missing_column_is_a_400_that_names_it(server: Server, logged_demo: LoggedDemo):
    frame = logged_demo.frame.drop(columns=["support_calls"])
    response = invoke(server, json_body(frame, "split", None))
    assert response.status_code == 400
    assert "missing inputs ['support_calls']" in response.json()["message"]


def test_a_wrong_parameter_type_is_a_400_that_names_it(server: Server, logged_demo: LoggedDemo):
    response = invoke(server, json_body(logged_demo.frame, "split", {"threshold": "high"}))
    assert response.status_code == 400
    message = response.json()["message"]
    assert "Failed to validate type and shape for 'threshold'" in message
    assert "high" in message


def test_the_server_keeps_serving_after_bad_requests(
    server: Server, local_model, logged_demo: LoggedDemo
):
    invoke(server, "{not json")
    invoke(server, json_body(logged_demo.frame.drop(columns=["plan"]), "records", None))
    invoke(server, json_body(logged_demo.frame, "records", {"scoring.decimals": "many"}))
    served = served_frame(invoke(server, json_body(logged_demo.frame, "records", DEMO_OVERRIDES)))
    expected = local_model.predict(logged_demo.frame, params=DEMO_OVERRIDES)
    pd.testing.assert_frame_equal(served, expected, check_dtype=False)
    assert server.process.poll() is None


def test_eight_clients_get_two_thousand_right_answers(
    server: Server, local_model, logged_demo: LoggedDemo
):
    """2,000 one-row requests from 8 concurrent clients, each with its own threshold: no error,
    and every answer is the one the local model gives for that row and threshold."""
    from concurrent.futures import ThreadPoolExecutor

    thresholds = [0.1, 0.3, 0.5, 0.7]
    frame = logged_demo.frame
    expected = {
        threshold: local_model.predict(frame, params={"threshold": threshold})
        for threshold in thresholds
    }
    bodies = [
        json_body(frame.iloc[[row]], "split", {"threshold": threshold})
        for threshold in thresholds
        for row in range(len(frame))
    ]

    def client(number: int) -> list[str]:
        wrong = []
        with requests.Session() as session:
            for request in range(250):
                index = (number * 250 + request) % len(bodies)
                threshold, row = divmod(index, len(frame))
                response = session.post(
                    f"{server.url}/invocations", data=bodies[index],
                    headers={"Content-Type": "application/json"}, timeout=60,
                )  # fmt: skip
                if response.status_code != 200:
                    wrong.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                answer = response.json()["predictions"][0]
                right = expected[thresholds[threshold]].iloc[row]
                if (
                    answer["label"] != right["label"]
                    or answer["customer_id"] != right["customer_id"]
                ):
                    wrong.append(f"row {row}, threshold {thresholds[threshold]}: {answer}")
        return wrong

    with ThreadPoolExecutor(max_workers=8) as pool:
        failures = [failure for found in pool.map(client, range(8)) for failure in found]
    assert failures == [], failures[:5]
    # the thresholds really give different answers, so a mixed-up parameter would be caught
    assert list(expected[0.1]["label"]) != list(expected[0.7]["label"])
    assert server.process.poll() is None
