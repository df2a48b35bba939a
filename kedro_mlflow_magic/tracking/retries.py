"""MLflow's HTTP retries during a log: a tracking server that cannot be reached fails the log
in seconds, not after MLflow's default retries (seven, with a doubling back-off: minutes).
Settings the user exported are kept; nothing changes outside the log."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from kedro_mlflow_magic.quiet import variables_set

LOG_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}


@contextlib.contextmanager
def bounded_retries() -> Iterator[None]:
    """Two retries a second or two apart for each request of the duration (unless the user set
    ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` / ``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``)."""
    with variables_set(LOG_HTTP):
        yield
