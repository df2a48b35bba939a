"""A tracking server behind authentication (``mlflow server --app-name basic-auth`` on
127.0.0.1, an admin and a second user without write permission): refusals are one line naming
the server, what was refused and the fix; a refused log leaves no READY model; kedro-mlflow's
``server.credentials`` are honoured; no password reaches the notebook's output or a model."""

from __future__ import annotations

import contextlib
import io
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import requests
from IPython.core.error import UsageError
from mlflow.entities import LoggedModelStatus
from servers import clean_environment, mlflow_server, running_server
from sessions import load_project

from kedro_mlflow_magic import log_pipeline_model
from kedro_mlflow_magic.errors import TrackingAccessError, masked_url
from kedro_mlflow_magic.tracking import store

ADMIN, ADMIN_PASSWORD = "admin", "admin-pw-5c1e77"
# a name no file of a model holds by chance: the suite-wide scan looks for every credential value
READER, READER_PASSWORD = "reader-5d7e", "reader-pw-0a93d2"
GUARDED = "guarded_model"
CREDENTIAL_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")

AUTH_CONFIG = """\
[mlflow]
default_permission = READ
database_uri = sqlite:///{database}
admin_username = {admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
"""

NODES = """\
def scale(frame, factor):
    scaled = frame.copy()
    scaled["y"] = scaled["x"] * factor
    return scaled
"""

PIPELINES = """\
flow = pipeline([node(nodes.scale, ["frame", "params:factor"], "scaled", name="scale")])
return {"flow": flow, "__default__": flow}
"""


@dataclass(frozen=True)
class AuthServer:
    url: str

    def as_user(self, user: str, password: str) -> str:
        return self.url.replace("http://", f"http://{user}:{password}@")


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """A basic-auth MLflow server (its user store and runs in a temporary folder), a second
    user with the default READ permission, and a registered model only the admin may write."""
    folder = tmp_path_factory.mktemp("auth-server")
    config = folder / "basic_auth.ini"
    config.write_text(AUTH_CONFIG.format(database=folder / "users.db", admin=ADMIN))
    environment = clean_environment("")
    # no default admin password in MLflow: the first start creates the admin with this one
    environment |= {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-csrf-key",
    }
    with running_server(
        mlflow_server(folder, "--app-name", "basic-auth"), "/health", folder / "server.log",
        cwd=folder, env=environment,
    ) as running:  # fmt: skip
        server = AuthServer(running.url)
        admin = (ADMIN, ADMIN_PASSWORD)
        created = requests.post(
            f"{server.url}/api/2.0/mlflow/users/create",
            json={"username": READER, "password": READER_PASSWORD},
            auth=admin,
            timeout=30,
        )
        assert created.status_code == 200, created.text
        guarded = requests.post(
            f"{server.url}/api/2.0/mlflow/registered-models/create",
            json={"name": GUARDED},
            auth=admin,
            timeout=30,
        )
        assert guarded.status_code == 200, guarded.text
        yield server


@pytest.fixture
def project(make_project) -> Path:
    return make_project(nodes=NODES, pipelines=PIPELINES, parameters="factor: 3\n")


@pytest.fixture
def as_user(auth_server: AuthServer, monkeypatch: pytest.MonkeyPatch):
    """Point MLflow at the server as ``user``/``password`` (environment variables)."""
    import mlflow

    def login(user: str, password: str) -> None:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server.url)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        mlflow.set_tracking_uri(auth_server.url)

    yield login
    mlflow.set_tracking_uri(None)


@pytest.fixture
def notebook(ipython_shell, project: Path):
    """The IPython shell with our extension and the project loaded by ``%reload_kedro``."""
    ipython_shell.run_line_magic("load_ext", "kedro_mlflow_magic")
    ipython_shell.run_line_magic("reload_kedro", str(project))
    ipython_shell.user_ns["sample"] = pd.DataFrame({"x": [1.5, 2.5]})
    return ipython_shell


def run_magic(shell, magic: str, line: str) -> tuple[UsageError, str]:
    """Run a magic that must fail: its UsageError and what it displayed."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output), pytest.raises(UsageError) as refused:
        shell.run_line_magic(magic, line)
    return refused.value, output.getvalue()


@pytest.mark.slow
def test_a_wrong_password_is_one_line_naming_the_server_and_the_fix(
    auth_server: AuthServer, as_user, notebook
) -> None:
    as_user(ADMIN, "not-the-password")
    error, shown = run_magic(notebook, "kedro_log_model", "flow --input frame --sample sample")
    message = str(error)
    assert "\n" not in message
    assert f"tracking server {auth_server.url} refused authentication as user 'admin'" in message
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" in message
    assert "server.credentials" in message
    assert "Traceback" not in shown
    assert "✗ logging" in shown.splitlines()[-1], shown

    error, _shown = run_magic(notebook, "kedro_predict", "models:/m-0123456789 --data sample")
    assert "refused authentication" in str(error) and "logged model's URI" not in str(error)


@pytest.mark.slow
def test_a_refused_registration_leaves_a_failed_run_and_a_failed_model(
    auth_server: AuthServer, as_user, notebook
) -> None:
    import mlflow
    from mlflow.entities import LoggedModelStatus

    as_user(READER, READER_PASSWORD)
    error, shown = run_magic(
        notebook, "kedro_log_model", f"flow --input frame --sample sample --register {GUARDED}"
    )
    message = str(error)
    assert f"refused permission on registered model '{GUARDED}' as user '{READER}'" in message
    assert "ask its administrator" in message and "\n" not in message
    assert "✗ registering" in shown.splitlines()[-1], shown

    model = mlflow.last_logged_model()
    assert model is not None and model.status == LoggedModelStatus.FAILED
    assert mlflow.get_run(model.source_run_id).info.status == "FAILED"
    assert mlflow.MlflowClient().search_model_versions(f"name = '{GUARDED}'") == []


@pytest.mark.slow
def test_kedro_mlflow_server_credentials_are_honoured_and_never_shown(
    auth_server: AuthServer,
    make_project,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
) -> None:
    import mlflow

    root = make_project(
        nodes=NODES,
        pipelines=PIPELINES,
        parameters="factor: 3\n",
        credentials=f"""\
            mlflow_credentials:
              MLFLOW_TRACKING_USERNAME: {READER}
              MLFLOW_TRACKING_PASSWORD: {READER_PASSWORD}
            """,
        files={
            "conf/base/mlflow.yml": f"""\
                server:
                  mlflow_tracking_uri: {auth_server.url}
                  credentials: mlflow_credentials
                """
        },
    )
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(store, "exported_credentials", {})
    mlflow.set_tracking_uri(None)
    project = load_project(root)
    frame = pd.DataFrame({"x": [1.5, 2.5]})
    try:
        info = log_pipeline_model(project.pipelines["flow"], project.catalog, "frame", frame)
        assert mlflow.get_tracking_uri() == auth_server.url
        assert os.environ["MLFLOW_TRACKING_USERNAME"] == READER
        assert mlflow.pyfunc.load_model(info.model_uri).predict(frame)["y"].tolist() == [4.5, 7.5]
    finally:
        store.project_uri_set = None
        mlflow.set_tracking_uri(None)
    printed = capfd.readouterr()
    assert READER_PASSWORD not in printed.out + printed.err
    # the suite-wide scan (conftest) looks for READER_PASSWORD in every model's files


@pytest.mark.slow
def test_no_password_of_the_tracking_uri_in_what_we_print(
    auth_server: AuthServer,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
) -> None:
    import mlflow

    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server.as_user(ADMIN, ADMIN_PASSWORD))
    loaded = load_project(project)
    try:
        info = log_pipeline_model(
            loaded.pipelines["flow"], loaded.catalog, "frame", pd.DataFrame({"x": [1.5]})
        )
        assert mlflow.get_run(info.run_id).info.status == "FINISHED"
    finally:
        mlflow.set_tracking_uri(None)
    printed = capfd.readouterr()
    assert "View run" not in printed.out, "MLflow's run-link lines are not passed through"
    assert ADMIN_PASSWORD not in printed.out + printed.err
    assert ADMIN_PASSWORD not in str(info)


# --- without a server ----------------------------------------------------------------------------


def test_masked_url_hides_passwords_only() -> None:
    text = "View run at: http://user:pa55@host:5000/#/x; sqlite:///tmp/a.db; https://h:1/p"
    assert masked_url(text) == (
        "View run at: http://user:***@host:5000/#/x; sqlite:///tmp/a.db; https://h:1/p"
    )


def test_access_errors_mask_the_server_and_name_the_resource() -> None:
    refused = TrackingAccessError("http://me:secret@h:5000", 403, "experiment 'churn'")
    assert "secret" not in str(refused)
    assert "refused permission on experiment 'churn'" in str(refused)


def test_export_server_credentials_exports_names_and_keeps_the_users_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store, "exported_credentials", {})
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "the-users-own")
    settings = {"server": {"credentials": "mlflow_credentials"}}
    credentials = {
        "mlflow_credentials": {"MLFLOW_TRACKING_USERNAME": "u", "MLFLOW_TRACKING_PASSWORD": "p"}
    }
    assert store.export_server_credentials(settings, credentials) == ["MLFLOW_TRACKING_USERNAME"]
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "u"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == "the-users-own"
    assert store.export_server_credentials({"server": {}}, credentials) == []
    assert store.export_server_credentials(settings, {}) == []


JITTERY_NODES = """\
import numpy as np


def jitter(frame):
    return frame.assign(y=np.random.default_rng().random(len(frame)))
"""


def test_a_failed_parity_check_leaves_no_ready_model(make_project) -> None:
    """Whatever step fails after MLflow created the logged model, the model is marked FAILED."""
    import mlflow
    from mlflow.entities import LoggedModelStatus

    from kedro_mlflow_magic.errors import ParityError

    root = make_project(
        nodes=JITTERY_NODES,
        pipelines='flow = pipeline([node(nodes.jitter, "frame", "jittered")])\n'
        'return {"flow": flow}',
    )
    project = load_project(root)
    with pytest.raises(ParityError):
        log_pipeline_model(
            project.pipelines["flow"], project.catalog, "frame", pd.DataFrame({"x": [1.0, 2.0]})
        )
    model = mlflow.last_logged_model()
    assert model is not None and model.status == LoggedModelStatus.FAILED
    assert mlflow.get_run(model.source_run_id).info.status == "FAILED"


def test_predict_without_a_uri_refuses_the_failed_last_model(make_project, ipython_shell) -> None:
    """After a failed log, MLflow's last logged model is the FAILED one: never predicted with."""
    import mlflow

    from kedro_mlflow_magic.errors import ModelLoadError
    from kedro_mlflow_magic.tracking.prediction import last_logged_model_uri

    root = make_project(
        nodes=JITTERY_NODES,
        pipelines='flow = pipeline([node(nodes.jitter, "frame", "jittered")])\n'
        'return {"flow": flow}',
    )
    ipython_shell.run_line_magic("load_ext", "kedro_mlflow_magic")
    ipython_shell.run_line_magic("reload_kedro", str(root))
    ipython_shell.user_ns["sample"] = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(UsageError, match="disagrees with the pipeline"):
        ipython_shell.run_line_magic("kedro_log_model", "flow --input frame --sample sample")
    failed = mlflow.last_logged_model()
    assert failed is not None and failed.status == LoggedModelStatus.FAILED
    line = (
        "the last model logged in this kernel failed to log (its run "
        f"{failed.source_run_id} is FAILED); log again or give a MODEL_URI"
    )
    with pytest.raises(ModelLoadError, match=re.escape(line)):
        last_logged_model_uri()
    with pytest.raises(UsageError, match=re.escape(line)) as refused:
        ipython_shell.run_line_magic("kedro_predict", "--data sample")
    assert "\n" not in str(refused.value)


def test_an_alias_refused_after_registration_leaves_no_version(demo, demo_sample) -> None:
    """MLflow refuses the alias only once the version exists ('latest' is reserved, checked by
    the store): the version is deleted, and the model and run are FAILED."""
    import mlflow

    name = f"churn-{uuid.uuid4().hex[:8]}"
    with pytest.raises(Exception, match="'latest' alias name"):
        log_pipeline_model(
            demo.pipelines["inference"], demo.catalog, "customers_to_score", demo_sample,
            registered_model_name=name, alias="latest",
        )  # fmt: skip
    client = mlflow.MlflowClient()
    assert client.search_model_versions(f"name = '{name}'") == []
    model = mlflow.last_logged_model()
    assert model is not None and model.status == LoggedModelStatus.FAILED
    assert mlflow.get_run(model.source_run_id).info.status == "FAILED"


@pytest.mark.slow
def test_magics_never_show_the_password_of_the_tracking_uri(
    auth_server: AuthServer,
    notebook,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
) -> None:
    """%kedro_log_model and %kedro_predict with ``http://user:password@host`` as the tracking
    URI: no output (stdout, stderr, displays, the returned summary) holds the password, and
    MLflow's "View run/experiment at:" lines are not shown. A refused request's UsageError
    names the server masked."""
    import mlflow

    uri = auth_server.as_user(ADMIN, ADMIN_PASSWORD)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    mlflow.set_tracking_uri(uri)
    try:
        info = notebook.run_line_magic("kedro_log_model", "flow --input frame --sample sample")
        notebook.user_ns["info"] = info
        predicted = notebook.run_line_magic("kedro_predict", "--data sample")
        assert predicted["y"].tolist() == [4.5, 7.5]
        notebook.run_line_magic("kedro_predict", "{info.model_uri} --data sample --compare")
        assert mlflow.get_run(info.run_id).info.status == "FINISHED"

        # the password only in the URL (none in the environment): the server refuses
        wrong = "wrong-pw-77b1e0"
        monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
        monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server.as_user(ADMIN, wrong))
        mlflow.set_tracking_uri(auth_server.as_user(ADMIN, wrong))
        error, _shown = run_magic(notebook, "kedro_log_model", "flow --input frame --sample sample")
    finally:
        mlflow.set_tracking_uri(None)
    message = str(error)
    assert "refused authentication" in message, message
    assert wrong not in message and f"http://{ADMIN}:***@127.0.0.1" in message
    printed = capfd.readouterr()
    everything = printed.out + printed.err + str(info) + repr(info) + message
    assert ADMIN_PASSWORD not in everything and wrong not in everything
    assert "View run" not in everything and "View experiment at" not in everything
    # the summary was displayed, with the server's run page, without the user's part
    assert f"run page      {auth_server.url}/#/experiments/" in printed.out, printed.out
