"""A fast first log: once a project is loaded, import what a log needs and open the project's
tracking store (creating or migrating a new sqlite store) in a background thread, while the user
reads and types. Quiet: what that thread logs never reaches the notebook."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

THREAD_NAME = "kedro-mlflow-magic-warm-up"


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


def warm(project_root: Path, config_loader: Any = None, experiment: str | None = None) -> None:
    """Import MLflow and our logging code, open the project's tracking and registry stores
    (creating or migrating them) and look up the project's experiment."""
    # Imports first: importing may configure logging (MLflow's handlers, Kedro's logging.yml),
    # which would replace the handlers this thread is hidden from.
    import mlflow
    import mlflow.pyfunc  # what a log and its parity check import

    from kedro_mlflow_magic import packaging, prepared, tracking  # noqa: F401

    with this_thread_unheard():
        if tracking.user_chose_tracking_uri():
            uri = mlflow.get_tracking_uri()
        else:
            uri = tracking.resolve_tracking_uri(project_root, config_loader)
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        if experiment:
            client.get_experiment_by_name(experiment)
        client.search_registered_models(max_results=1)


def warm_in_background(
    project_root: Path, config_loader: Any = None, experiment: str | None = None
) -> threading.Thread:
    """Start ``warm`` in a daemon thread; a failure is only logged at debug level (the log
    itself will meet it and say what is wrong)."""

    def run() -> None:
        try:
            warm(project_root, config_loader, experiment)
        except Exception:
            logger.debug("warming up for the first log failed", exc_info=True)

    global current
    thread = threading.Thread(target=run, name=THREAD_NAME, daemon=True)
    thread.start()
    current = thread
    return thread


# The warm-up running or done last: a log waits for it rather than open the store beside it.
current: threading.Thread | None = None


def wait_for_warm_up() -> None:
    """Let a running warm-up finish (two threads must not create one sqlite store at once)."""
    if current is not None and current is not threading.current_thread():
        current.join()
