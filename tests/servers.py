"""Real servers on 127.0.0.1 for the tests (``mlflow server``, ``mlflow models serve``,
``moto_server``, JupyterLab): a free port, a clean environment, a start that waits for an
answer with a deadline (never a sleep that assumes a speed), and a stop that ends the whole
process group.

A port found free can be taken by another process before the server binds it (a second copy
of the suite, say). ``running_server`` then starts again on another port: when the server
exits saying the address is in use, or when what answers on the port is not the server it
started."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests

VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
ADDRESS_IN_USE = (
    "Address already in use",
    "address already in use",
    "Errno 98",
    "is already in use",
)


def free_port() -> int:
    """A port nothing listens on now (the system's choice for port 0)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def clean_environment(tracking_uri: str) -> dict[str, str]:
    """The environment of a server or a fresh process that must find nothing of the project:
    no PYTHONPATH (nor PYTHONHOME, PYTHONSTARTUP, user site-packages), no Kedro setting, the
    venv's tools first on PATH, and MLflow pointed at ``tracking_uri``. The project's package
    can then only come from the model."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP") and not key.startswith("KEDRO")
    }
    environment["PATH"] = f"{VENV_BIN}{os.pathsep}{environment.get('PATH', '')}"
    environment["PYTHONNOUSERSITE"] = "1"
    environment["MLFLOW_TRACKING_URI"] = tracking_uri
    # off switches, which point at nothing
    environment |= {"KEDRO_DISABLE_TELEMETRY": "true", "MLFLOW_DISABLE_TELEMETRY": "true"}
    return environment


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.is_file() else "(no log)"


class AddressInUse(Exception):
    """The server could not bind its port: another process took it first."""


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    """Poll ``url`` until it answers 200, failing with the server's log if the server exits or
    the deadline passes (a busy machine may take minutes to start a server, and a while to
    answer its first request)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log_tail(log)
            if any(sign in text for sign in ADDRESS_IN_USE):
                raise AddressInUse(text)
            raise AssertionError(f"the server exited early (code {process.returncode}):\n{text}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=10).status_code == 200:
                return
        time.sleep(0.3)  # the pace of the polling, not an assumption about the server's speed
    raise AssertionError(f"{url} did not answer in {timeout}s:\n{log_tail(log)}")


def listens_on(process: subprocess.Popen, port: int) -> bool:
    """Whether ``process`` or one of its children is what listens on ``port``."""
    try:
        parent = psutil.Process(process.pid)
        family = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return False
    for member in family:
        # net_connections since psutil 6, connections before
        listing = getattr(member, "net_connections", None) or member.connections
        try:
            connections = listing(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections):
            return True
    return False


def stop(process: subprocess.Popen) -> None:
    """Stop a server started with ``start_new_session`` and its children (its process group)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@dataclass(frozen=True)
class Server:
    """A running server: its base URL (``http://127.0.0.1:<port>``), process and log."""

    url: str
    port: int
    process: subprocess.Popen
    log: Path


@contextlib.contextmanager
def running_server(
    command: Callable[[int], list[str]],
    health: str,
    log: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 240,
    attempts: int = 3,
) -> Iterator[Server]:
    """Start ``command(port)`` on a free port in a process group of its own, output to ``log``;
    yield it once ``health`` (a path, ``/ping``) answers 200 from it; stop it (and its children)
    at the end. A port taken in between is tried again on another port."""
    for _attempt in range(attempts):
        port = free_port()
        with log.open("wb") as output:
            process = subprocess.Popen(
                command(port), cwd=cwd, env=None if env is None else dict(env),
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        server = Server(f"http://{HOST}:{port}", port, process, log)
        try:
            wait_for_http(f"{server.url}{health}", process, log, timeout)
            if not listens_on(process, port):
                raise AddressInUse(f"another process answers on port {port}")
        except AddressInUse:
            stop(process)
            continue
        except BaseException:
            stop(process)
            raise
        try:
            yield server
        finally:
            stop(process)
        return
    raise AssertionError(f"no free port held in {attempts} attempts:\n{log_tail(log)}")


def mlflow_server(folder: Path, *options: str) -> Callable[[int], list[str]]:
    """The command of an ``mlflow server`` (one worker) whose runs are in ``folder/mlflow.db``
    and artifacts in ``folder/artifacts``, with more ``options``, for ``running_server``."""

    def command(port: int) -> list[str]:
        return [
            str(VENV_BIN / "mlflow"), "server", *options,
            "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination", str(folder / "artifacts"),
            "--host", HOST, "--port", str(port), "--workers", "1",
        ]  # fmt: skip

    return command


AUTH_CONFIG = """\
[mlflow]
default_permission = READ
database_uri = sqlite:///{database}
admin_username = {admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
"""


@contextlib.contextmanager
def tracking_server(folder: Path, admin: tuple[str, str] | None = None) -> Iterator[Server]:
    """A running ``mlflow server`` (``mlflow_server``: its runs and artifacts in ``folder``) in a
    clean environment. With ``admin`` (user, password): behind MLflow's basic authentication,
    its users in ``folder/users.db``, READ the default permission, the admin created with that
    password on the first start (MLflow has no default one)."""
    environment = clean_environment("")
    options: tuple[str, ...] = ()
    if admin is not None:
        config = folder / "basic_auth.ini"
        config.write_text(AUTH_CONFIG.format(database=folder / "users.db", admin=admin[0]))
        options = ("--app-name", "basic-auth")
        environment |= {
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_AUTH_ADMIN_PASSWORD": admin[1],
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-csrf-key",
        }
    with running_server(
        mlflow_server(folder, *options), "/health", folder / "server.log", cwd=folder,
        env=environment,
    ) as server:  # fmt: skip
        yield server


def model_server(model_uri: str, *options: str) -> Callable[[int], list[str]]:
    """The command of ``mlflow models serve`` for ``model_uri`` in the current environment,
    with more ``options`` (``--workers 2``)."""

    def command(port: int) -> list[str]:
        return [
            str(VENV_BIN / "mlflow"), "models", "serve", "-m", model_uri,
            "--env-manager", "local", "-h", HOST, "-p", str(port), *options,
        ]  # fmt: skip

    return command


# --- fresh processes ----------------------------------------------------------------------------


def run_python(arguments: list[str], cwd: Path, tracking_uri: str, stdin: str | None = None) -> str:
    """Run this interpreter with ``arguments`` in ``cwd`` and ``clean_environment`` (nothing of
    the project); return what it printed, failing with its stderr if it fails."""
    finished = subprocess.run(
        [sys.executable, *arguments], input=stdin, cwd=cwd, env=clean_environment(tracking_uri),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout


PREDICT = """
import json, sys
import mlflow, pandas as pd
frame = pd.read_json(sys.stdin, orient="split")
model = mlflow.pyfunc.load_model(sys.argv[1])
print(model.predict(frame, params=json.loads(sys.argv[2])).to_json(orient="split"))
"""


def predict_in_fresh_process(
    model_uri: str, frame: Any, tracking_uri: str, cwd: Path, params: dict | None = None
) -> Any:
    """The model's predictions for ``frame`` (a pandas DataFrame), loaded with plain
    ``mlflow.pyfunc.load_model`` in a fresh process that has only ``tracking_uri``."""
    import pandas as pd

    printed = run_python(
        ["-c", PREDICT, model_uri, json.dumps(params)], cwd, tracking_uri,
        stdin=frame.to_json(orient="split"),
    )  # fmt: skip
    return pd.read_json(io.StringIO(printed.strip().splitlines()[-1]), orient="split")
