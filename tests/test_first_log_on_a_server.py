"""A team's first day with a shared tracking server: in a fresh kernel, the log cell right after
``%reload_kedro`` (while the background warm-up still talks to the server) logs the model.

Two threads importing MLflow's modules at once fail with "partially initialized module": the
warm-up's requests make MLflow import lazily while the log imports. These tests run the cells a
new user runs, on real kernels, against a real ``mlflow server`` over HTTP, plain and behind
basic authentication, several fresh kernels each (the failure depended on timing). The warm-up's
own guarantees (no request to a server, one at a time) are tested in test_warmup."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from kernels import cell_starting, cell_text, code_notebook, run_notebook
from servers import Server, clean_environment, mlflow_server, running_server

pytestmark = pytest.mark.slow

FRESH_KERNELS = 5
ADMIN, ADMIN_PASSWORD = "admin", "admin-pw-first-day-7b2c"
AUTH_CONFIG = """\
[mlflow]
default_permission = READ
database_uri = sqlite:///{database}
admin_username = {admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
"""


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("first-day-server")
    with running_server(
        mlflow_server(folder), "/health", folder / "server.log", cwd=folder,
        env=clean_environment(""),
    ) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``mlflow server --app-name basic-auth`` whose admin the kernels log in as."""
    folder = tmp_path_factory.mktemp("first-day-auth-server")
    config = folder / "basic_auth.ini"
    config.write_text(AUTH_CONFIG.format(database=folder / "users.db", admin=ADMIN))
    environment = clean_environment("") | {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-csrf-key",
    }
    with running_server(
        mlflow_server(folder, "--app-name", "basic-auth"), "/health", folder / "server.log",
        cwd=folder, env=environment,
    ) as server:  # fmt: skip
        yield server


def first_day_notebook(project: Path):
    """The cells of a new user: load, take a sample, log right away."""
    return code_notebook(
        [
            "%load_ext kedro_mlflow_magic",
            f"%reload_kedro {project}",
            'sample = catalog.load("customers").drop(columns=["churned"]).head(30)',
            "info = %kedro_log_model inference --input customers_to_score --sample sample",
            "print('LOGGED', info.model_uri)",
        ]
    )


def log_in_fresh_kernels(project: Path, environment: dict[str, str]) -> list[str]:
    """Run the first-day notebook in ``FRESH_KERNELS`` fresh kernels started in the project's
    ``notebooks`` folder (so ``%load_ext`` loads the project, then ``%reload_kedro`` again:
    two warm-ups); the model URI each logged."""
    folder = project / "notebooks"
    folder.mkdir(exist_ok=True)
    uris = []
    for attempt in range(FRESH_KERNELS):
        notebook = run_notebook(
            first_day_notebook(project), folder, environment=environment, allow_errors=True
        )
        log_cell = cell_starting(notebook, "info = %kedro_log_model")
        shown = cell_text(log_cell, tracebacks=True)
        assert "partially initialized module" not in shown, f"kernel {attempt}: {shown}"
        assert not [out for out in log_cell.outputs if out.output_type == "error"], (
            f"kernel {attempt}: {shown}"
        )
        printed = cell_text(cell_starting(notebook, "print('LOGGED'"))
        assert printed.startswith("LOGGED models:/"), f"kernel {attempt}: {printed}"
        uris.append(printed.split()[1])
    return uris


def logged_models(url: str, auth: tuple[str, str] | None = None) -> set[str]:
    """The ids of the READY logged models the server holds."""
    found = requests.post(
        f"{url}/api/2.0/mlflow/logged-models/search",
        json={"experiment_ids": experiment_ids(url, auth), "max_results": 50},
        auth=auth,
        timeout=60,
    )
    assert found.status_code == 200, found.text
    return {
        model["info"]["model_id"]
        for model in found.json().get("models", [])
        if model["info"].get("status") == "LOGGED_MODEL_READY"
    }


def experiment_ids(url: str, auth: tuple[str, str] | None) -> list[str]:
    found = requests.post(
        f"{url}/api/2.0/mlflow/experiments/search", json={"max_results": 50}, auth=auth, timeout=60
    )
    assert found.status_code == 200, found.text
    return [experiment["experiment_id"] for experiment in found.json()["experiments"]]


def test_the_first_log_right_after_the_load_works_against_a_tracking_server(
    plain_server: Server, trained_demo: Path
) -> None:
    uris = log_in_fresh_kernels(trained_demo, {"MLFLOW_TRACKING_URI": plain_server.url})
    assert len(set(uris)) == FRESH_KERNELS
    assert {uri.removeprefix("models:/") for uri in uris} <= logged_models(plain_server.url)


def test_the_first_log_right_after_the_load_works_behind_basic_auth(
    auth_server: Server, trained_demo: Path
) -> None:
    environment = {
        "MLFLOW_TRACKING_URI": auth_server.url,
        "MLFLOW_TRACKING_USERNAME": ADMIN,
        "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD,
    }
    uris = log_in_fresh_kernels(trained_demo, environment)
    assert len(set(uris)) == FRESH_KERNELS
    admin = (ADMIN, ADMIN_PASSWORD)
    assert {uri.removeprefix("models:/") for uri in uris} <= logged_models(auth_server.url, admin)
