"""The background warm-up after a session loads (a fast first log): what it does, and that it
is safe: quiet, no request to a server, one warm-up at a time, no change to MLflow's global
state."""

from __future__ import annotations

import contextlib
import logging
import socket
import sqlite3
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from kedro_mlflow_magic import compat
from kedro_mlflow_magic.build import requirements
from kedro_mlflow_magic.project import ProjectDescription
from kedro_mlflow_magic.tracking import warmup

NODES = "def double(frame):\n    return frame * 2\n"
PIPELINES = 'return {"double": pipeline([node(nodes.double, "frame", "doubled")])}'


def schema_of(database: Path) -> tuple[list[list[str]], list[tuple]]:
    """A sqlite database's schema and its alembic revision; each statement as its sorted lines
    (MLflow's own order of a table's constraints varies from one creation to the next)."""
    with sqlite3.connect(database) as connection:
        statements = [row[0] for row in connection.execute("SELECT sql FROM sqlite_master")]
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    lines = [
        sorted(line.strip().rstrip(",") for line in str(statement).splitlines())
        for statement in statements
    ]
    return sorted(lines), revision


@pytest.mark.skipif(not warmup.SCRATCH_FOLDER.is_dir(), reason="no memory-backed scratch space")
def test_a_new_local_store_is_created_complete_as_mlflow_creates_it(tmp_path: Path) -> None:
    import mlflow

    ours, theirs = tmp_path / "ours" / "mlflow.db", tmp_path / "theirs" / "mlflow.db"
    ours.parent.mkdir()
    theirs.parent.mkdir()
    assert warmup.create_store_quickly(f"sqlite:///{ours}")
    assert ours.is_file() and not list(ours.parent.glob(".*partial"))
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{theirs}").search_experiments()
    assert schema_of(ours) == schema_of(theirs)
    # MLflow opens it as its own, with its default experiment
    opened = mlflow.MlflowClient(tracking_uri=f"sqlite:///{ours}").search_experiments()
    assert [experiment.name for experiment in opened] == ["Default"]


def test_existing_stores_servers_and_relative_paths_are_left_to_mlflow(tmp_path: Path) -> None:
    existing = tmp_path / "mlflow.db"
    existing.write_bytes(b"")
    for uri in (
        f"sqlite:///{existing}",
        "sqlite:///relative.db",
        f"sqlite:///{tmp_path / 'missing' / 'mlflow.db'}",
        "http://127.0.0.1:5000",
        "databricks",
    ):
        assert warmup.new_sqlite_store(uri) is None
        assert not warmup.create_store_quickly(uri)
    assert existing.read_bytes() == b""
    assert not (tmp_path / "missing").exists()


def test_warnings_of_the_warm_up_thread_alone_are_not_shown() -> None:
    inside, notebook_warned = threading.Event(), threading.Event()

    def warm_up() -> None:
        with warmup.this_thread_unwarned():
            warnings.warn("from the warm-up", UserWarning, stacklevel=1)
            inside.set()
            notebook_warned.wait(120)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        thread = threading.Thread(target=warm_up)
        thread.start()
        assert inside.wait(120), "the thread never warned"
        warnings.warn("from the notebook", UserWarning, stacklevel=1)
        notebook_warned.set()
        thread.join()
    assert [str(warning.message) for warning in caught] == ["from the notebook"]


def test_warm_up_fills_the_first_log_caches_quietly_without_touching_mlflow_state(
    make_project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, caplog
) -> None:
    """On a project with its default store: the store is made and the caches filled, nothing
    is printed or logged, and MLflow's tracking URI, experiment and active run stay as they
    were (the project's experiment is looked up, not created)."""
    # the warm-up starts once a session is loaded: Kedro's project module, which configures
    # logging (and says so) when first imported, is there already
    import kedro.framework.project  # noqa: F401
    import mlflow
    from mlflow.utils import requirements_utils

    root = make_project(NODES, PIPELINES)
    capsys.readouterr()
    package = root.name
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    store = root / "mlflow.db"
    caplog.set_level(logging.DEBUG)
    requirements.module_distributions.cache_clear()  # filled by the warm-up, not a test before
    thread = warmup.warm_in_background(ProjectDescription(root), package).thread
    try:
        thread.join()  # given its time, as while a person reads and types
        assert not thread.is_alive()
        assert "mlflow.pyfunc.model" in sys.modules
        # nothing printed, nothing logged from its thread (whatever the level: caplog's DEBUG)
        assert capsys.readouterr() == ("", "")
        assert not [record for record in caplog.records if record.thread == thread.ident]
        assert store.is_file()
        assert requirements_utils._MODULES_TO_PACKAGES is not None
        assert requirements.module_distributions.cache_info().currsize == 1
        assert not mlflow.is_tracking_uri_set()
        assert mlflow.active_run() is None
        assert compat.active_experiment_id() is None
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{store}")
        assert client.get_experiment_by_name(package) is None
    finally:
        warmup.wait_for_warm_up()


def test_a_waiting_log_makes_the_warm_up_skip_the_caches_it_has_not_filled(
    make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log that waits gets the store now; the caches it needs it fills itself."""
    root = make_project(NODES, PIPELINES)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    requirements.module_distributions.cache_clear()
    hurry = threading.Event()
    hurry.set()
    warmup.warm(ProjectDescription(root), root.name, hurry=hurry)
    assert (root / "mlflow.db").is_file()
    assert requirements.module_distributions.cache_info().currsize == 0


def test_mlflow_ymls_relative_store_set_as_written_is_warmed_in_the_project(
    make_project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With our plugin hook disabled, kedro-mlflow's hook sets mlflow.yml's relative sqlite URI
    as written: the warm-up opens the project's store, as the log does, not one in the
    notebook's folder."""
    import mlflow

    yml = {"conf/local/mlflow.yml": "server:\n  mlflow_tracking_uri: sqlite:///mlruns.db\n"}
    root = make_project(NODES, PIPELINES, files=yml)
    notebook_folder = tmp_path / "notebooks"
    notebook_folder.mkdir()
    monkeypatch.chdir(notebook_folder)
    mlflow.set_tracking_uri("sqlite:///mlruns.db")  # what kedro-mlflow's hook does
    hurry = threading.Event()
    hurry.set()
    warmup.warm(ProjectDescription(root), root.name, hurry=hurry)
    assert (root / "mlruns.db").is_file()
    assert not (notebook_folder / "mlruns.db").exists()
    assert mlflow.get_tracking_uri() == "sqlite:///mlruns.db"  # left as it was


def test_the_warm_up_is_one_object_a_log_waits_for(
    make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(NODES, PIPELINES)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    started = warmup.warm_in_background(ProjectDescription(root), root.name)
    try:
        assert warmup.current is started
        warmup.wait_for_warm_up()
        assert started.hurry.is_set()
        assert not started.thread.is_alive()
    finally:
        warmup.wait_for_warm_up()


class SilentServer:
    """A server on 127.0.0.1 that accepts connections and never answers (a tracking server too
    slow to answer in time); it counts the connections made to it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.connections.append(self.listener.accept()[0])

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def silent_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentServer]:
    server = SilentServer()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    # MLflow's own retries would otherwise keep a request to it going for minutes
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "600")
    yield server
    server.close()


# A deadline for a thread that should end by itself: only reached when it waits on the server.
ENDS_WITHIN = 120


def test_the_warm_up_sends_no_request_to_a_tracking_server(
    make_project, silent_server: SilentServer
) -> None:
    """A log waits for the warm-up: the warm-up never waits on a server's answer."""
    root = make_project(NODES, PIPELINES)
    started = warmup.warm_in_background(ProjectDescription(root), root.name)
    started.thread.join(ENDS_WITHIN)
    assert not started.thread.is_alive(), "the warm-up waits on the tracking server"
    assert silent_server.connections == []
    assert "mlflow.store.tracking.rest_store" in sys.modules  # its clients imported ahead


def test_a_second_warm_up_ends_the_first_before_it_imports(
    make_project, silent_server: SilentServer
) -> None:
    """Two loads (``%load_ext`` in a project folder, then ``%reload_kedro``) start two warm-ups:
    once a log has waited for the warm-up, none of them is left running beside it."""
    first, second = make_project(NODES, PIPELINES), make_project(NODES, PIPELINES)
    started = [
        warmup.warm_in_background(ProjectDescription(root), root.name) for root in (first, second)
    ]
    waiting = threading.Thread(target=warmup.wait_for_warm_up)
    waiting.start()
    waiting.join(ENDS_WITHIN)
    assert not waiting.is_alive(), "the wait waits on the tracking server"
    assert [warm_up.thread.is_alive() for warm_up in started] == [False, False]


def test_a_new_load_waits_for_the_warm_up_of_the_last_one(
    ipython_shell, make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``%reload_kedro`` imports MLflow too (its quiet, kedro-mlflow's hooks): it first ends a
    warm-up still importing, here one that runs until a load hurries it."""
    root = make_project(NODES, PIPELINES)
    still_importing = warmup.WarmUp(threading.Thread(target=lambda: None, daemon=True))
    still_importing.thread = threading.Thread(target=still_importing.hurry.wait, daemon=True)
    monkeypatch.setattr(warmup, "current", still_importing)
    still_importing.thread.start()
    names = set(ipython_shell.user_ns)
    try:
        ipython_shell.run_line_magic("load_ext", "kedro_mlflow_magic")
        ipython_shell.run_line_magic("reload_kedro", str(root))
        assert not still_importing.thread.is_alive(), "the load ran beside the warm-up"
    finally:
        still_importing.hurry.set()
        for name in set(ipython_shell.user_ns) - names:
            del ipython_shell.user_ns[name]


def test_a_cell_after_the_load_runs_once_the_warm_up_finished(
    ipython_shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warm-up runs only while the kernel is idle: the next cell's own code (a
    ``session.run()`` importing polars, say) never imports beside it. The cell lets it finish
    without hurrying it (a log in a later cell finds its caches filled). Here a warm-up that
    works half a second; the cell sees it finished, every step done."""
    still_working = warmup.WarmUp(threading.Thread(target=lambda: None, daemon=True))
    steps_done = []

    def work() -> None:
        time.sleep(0.5)
        steps_done.append("all" if not still_working.hurry.is_set() else "hurried")

    still_working.thread = threading.Thread(target=work, daemon=True)
    ipython_shell.run_line_magic("load_ext", "kedro_mlflow_magic")
    monkeypatch.setattr(warmup, "current", still_working)
    still_working.thread.start()
    try:
        ran = ipython_shell.run_cell(
            "from kedro_mlflow_magic.tracking import warmup as _w\n_w.current.thread.is_alive()"
        )
        assert ran.success, ran.error_in_exec
        assert ran.result is False, "the cell ran beside the warm-up"
        assert steps_done == ["all"]
    finally:
        ipython_shell.user_ns.pop("_w", None)
