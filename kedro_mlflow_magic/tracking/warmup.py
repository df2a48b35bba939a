"""A fast first log: once a project is loaded, do in a background thread, while the user reads
and types, what a first log would otherwise pay for: import MLflow's model-logging and loading
machinery, create and open the project's local sqlite store (creating or migrating it), and
fill the caches MLflow and we fill on a first log (the scans of every installed distribution,
the run's git context).

Safe by construction:
- one thread at a time: it runs only while the kernel is idle (the extension's
  ``pre_run_cell`` callback lets it finish before any cell's code runs, the user's
  ``session.run()`` or ``import polars`` included); every magic and the lazy names of the
  Python API wait for it too, and a new warm-up first ends the one before it, so no module is
  ever imported by two threads at once (MLflow imports lazily, also polars when installed, and
  two threads importing one module at once fail with "partially initialized module");
- nothing it does waits on another machine: it sends no request to a tracking server or a
  database server (only a local sqlite store is opened), so a log that waits for it never
  waits on a slow server's answer, and the caches left are skipped once a log waits;
- it never sets MLflow's tracking URI, experiment or active run, and what it logs or warns
  never reaches the notebook, while other threads' logs and warnings are untouched."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import tempfile
import threading
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedro_mlflow_magic.project import ProjectDescription

logger = logging.getLogger(__name__)

THREAD_NAME = "kedro-mlflow-magic-warm-up"
# Memory-backed scratch space (Linux): where a new sqlite store's migrations run quickly.
SCRATCH_FOLDER = Path("/dev/shm")


class DropThread(logging.Filter):
    """Drops the records of one thread."""

    def __init__(self, thread_id: int | None) -> None:
        super().__init__()
        self.thread_id = thread_id

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread_id


@contextlib.contextmanager
def this_thread_unheard() -> Iterator[None]:
    """Records logged by this thread reach no handler of the root or MLflow loggers (the ones
    that print), whatever their level; other threads' records are untouched."""
    dropping = DropThread(threading.get_ident())
    handlers = [
        handler
        for name in (None, "mlflow", "alembic")
        for handler in logging.getLogger(name).handlers
    ]
    for handler in handlers:
        handler.addFilter(dropping)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(dropping)


@contextlib.contextmanager
def this_thread_unwarned() -> Iterator[None]:
    """Warnings raised by this thread are not shown; other threads' go to the ``showwarning``
    that was in place. (``warnings.catch_warnings`` would silence every thread.)"""
    shown_before = warnings.showwarning
    thread_id = threading.get_ident()

    def show(*arguments: Any, **options: Any) -> None:
        if threading.get_ident() != thread_id:
            shown_before(*arguments, **options)

    warnings.showwarning = show
    try:
        yield
    finally:
        if warnings.showwarning is show:  # else someone replaced it since: leave theirs
            warnings.showwarning = shown_before


def new_sqlite_store(uri: str) -> Path | None:
    """The file of a local sqlite store that does not exist yet (in an existing folder), else
    None (an existing store, a server, an in-memory or relative database)."""
    if not uri.startswith("sqlite:////") or "?" in uri:
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    if path.exists() or not path.parent.is_dir():
        return None
    return path


def create_store_quickly(uri: str) -> bool:
    """Create a new local sqlite store complete, quickly: MLflow's ~70 schema migrations are
    each a synced disk write (seconds on a disk, under a second in memory), so they run on a
    file in memory-backed scratch space, which is then copied beside the store's path and
    linked in place only if no store appeared there meanwhile. True when this made the store;
    False leaves it to MLflow (no scratch space, an existing store, a filesystem without links)."""
    path = new_sqlite_store(uri)
    if path is None or not (SCRATCH_FOLDER.is_dir() and os.access(SCRATCH_FOLDER, os.W_OK)):
        return False
    from kedro_mlflow_magic.compat import create_tracking_tables

    with tempfile.TemporaryDirectory(dir=SCRATCH_FOLDER, prefix="kedro-mlflow-magic-") as scratch:
        database = Path(scratch) / path.name
        create_tracking_tables(str(database))
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
        try:
            shutil.copyfile(database, partial)
            with open(partial, "rb+") as written:
                os.fsync(written.fileno())
            os.link(partial, path)  # fails when a store appeared meanwhile: that one stays
        except OSError:
            return False
        finally:
            partial.unlink(missing_ok=True)
    return True


# What a log, its parity check's reload and its run's end import on first use (MLflow imports
# much of it lazily), and our own logging code.
WHAT_A_LOG_IMPORTS = (
    "mlflow",
    "mlflow.models.signature",
    "mlflow.models.utils",
    "mlflow.pyfunc",
    "mlflow.pyfunc.model",
    "mlflow.tracing.export.utils",  # a run's end flushes MLflow's trace exports
    "mlflow.tracing.processor.base_mlflow",
    "mlflow.tracking.context.registry",
    "mlflow.utils.requirements_utils",
    "mlflow.store.tracking.rest_store",  # a tracking server's clients, imported on first use
    "mlflow.store.model_registry.rest_store",
    "kedro.runner",
    "kedro_mlflow_magic.build.packaging",
    "kedro_mlflow_magic.prepared",
    "kedro_mlflow_magic.tracking.store",
)


def is_local_store(uri: str) -> bool:
    """A store on this machine (a sqlite file): opening it asks no server anything."""
    return uri.startswith("sqlite:")


def import_what_a_log_imports() -> None:
    for name in WHAT_A_LOG_IMPORTS:
        importlib.import_module(name)


def warm(
    project: ProjectDescription,
    experiment: str | None = None,
    hurry: threading.Event | None = None,
) -> None:
    """Import what a log needs; create a new local sqlite store and open the project's local
    stores (creating or migrating them) and look up the project's experiment there; then fill
    the caches of a first log. A store on a server is left alone (no request). The caches left
    are skipped once ``hurry`` is set (a log is waiting: it fills what it needs itself)."""
    # Imports first: importing may configure logging (MLflow's handlers, Kedro's
    # logging.yml), which would replace the handlers this thread is hidden from.
    import_what_a_log_imports()
    import mlflow

    from kedro_mlflow_magic import compat
    from kedro_mlflow_magic.build import requirements
    from kedro_mlflow_magic.tracking import store

    def hurried() -> bool:
        return hurry is not None and hurry.is_set()

    with this_thread_unheard(), this_thread_unwarned():
        # the log's own choice: the user's URI, else the project's (also when kedro-mlflow's
        # hook set mlflow.yml's relative sqlite URI as written, which SQLite would open here)
        uri = store.resolve_tracking_uri(project.path, project.config_loader).uri
        if is_local_store(uri):
            create_store_quickly(uri)  # a new local store (MLflow would create it, slowly)
            # a client of its own: MLflow's global tracking URI stays as it is
            client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
            if experiment:
                client.get_experiment_by_name(experiment)
            client.search_registered_models(max_results=1)
        caches = (
            # MLflow's check of a model's requirements against this environment (a log calls it)
            compat.warm_mlflow_package_map,
            compat.warm_mlflow_run_context,  # the git context of a first run
            # ours, for a node's import whose distribution has another name (a rare need)
            requirements.module_distributions,
        )
        for fill in caches:
            if hurried():
                return
            fill()


@dataclass
class WarmUp:
    """A warm-up running or done: its thread, and the event a waiting log sets to have it skip
    the steps it has not done yet."""

    thread: threading.Thread
    hurry: threading.Event = field(default_factory=threading.Event)

    def wait(self, hurry: bool = True) -> None:
        """See ``wait_for_warm_up``."""
        if self.thread is threading.current_thread():
            return
        if hurry:
            self.hurry.set()  # the steps left: the caller does what it needs itself
        self.thread.join()


# The warm-up started last (it ended the ones before it): a log waits for it.
current: WarmUp | None = None


def warm_in_background(project: ProjectDescription, experiment: str | None = None) -> WarmUp:
    """Start ``warm`` in a daemon thread, which first ends the warm-up started before it (one
    warm-up at a time); a failure is only logged at debug level (the log itself will meet it
    and say what is wrong)."""
    global current
    previous = current

    def run() -> None:
        if previous is not None:
            previous.wait()
        try:
            warm(project, experiment, started.hurry)
        except Exception:
            logger.debug("warming up for the first log failed", exc_info=True)

    started = WarmUp(threading.Thread(target=run, name=THREAD_NAME, daemon=True))
    current = started
    started.thread.start()
    return started


def wait_for_warm_up(hurry: bool = True) -> None:
    """Before anything imports MLflow: let a running warm-up end now (no module may be imported
    by two threads at once), skipping the steps it has not done unless ``hurry`` is false (a
    cell that logs nothing: the first log stays fast). It waits on no server, so neither does
    this."""
    if current is not None:
        current.wait(hurry)
