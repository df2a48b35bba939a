"""Quiet calls: while our code runs, Kedro's and MLflow's logging, warnings and progress bars
stay out of the notebook; a warning that matters to the user becomes a note in our own words
(docs/explanation/behaviour.md#the-magics). Nothing changes outside the call: the user's own
logs, prints and warnings still show.
Our own reads of the catalog (``load_quietly``) and runs of a pipeline (``quiet_kedro``) keep
Kedro's INFO lines about every load and node to themselves.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedro.io import DataCatalog

# Loggers of the libraries we call; silenced only for the duration of one of our calls.
THIRD_PARTY_LOGGERS = ("kedro", "mlflow", "alembic", "sqlalchemy", "py4j", "urllib3", "git")
# a level above every record's: a logger set to it says nothing
SILENT = logging.CRITICAL + 1
PROGRESS_BAR_VARIABLE = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
# MLflow's import sets its loggers' level from this variable, over the level we set
MLFLOW_LEVEL_VARIABLE = "MLFLOW_LOGGING_LEVEL"
OUR_PACKAGE = str(Path(__file__).parent)
THIRD_PARTY_FOLDERS = ("site-packages", "dist-packages")
INTEGER_HINT = re.compile(r"schema contains integer column", re.IGNORECASE)

INTEGER_NOTE = (
    "the signature has integer columns, which cannot hold missing values: if a column can be "
    "missing at predict time, make it float in the sample or edit its type in the signature"
)


def note_for(message: str) -> str | None:
    """Our words for a third-party warning the user should know about, else None."""
    if INTEGER_HINT.search(message):
        return INTEGER_NOTE
    return None


def from_third_party(filename: str) -> bool:
    """Whether a warning was raised in an installed library or the standard library (not in
    this package, nor in the user's project or notebook)."""
    if filename.startswith(OUR_PACKAGE):
        return False
    parts = Path(filename).parts
    return any(folder in parts for folder in THIRD_PARTY_FOLDERS) or filename.startswith(
        (sys.base_prefix, "<frozen")
    )


@contextlib.contextmanager
def quiet_third_party() -> Iterator[list[str]]:
    """Silence third-party loggers, warnings and MLflow's progress bars and messages for the
    duration; yield the list that receives our notes for the warnings that matter. Warnings of
    the user's own code are shown again when the call ends."""
    from kedro_mlflow_magic.compat import mlflow_messages_muted

    notes: list[str] = []
    loggers = [logging.getLogger(name) for name in THIRD_PARTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    progress_bar = os.environ.get(PROGRESS_BAR_VARIABLE)
    os.environ[PROGRESS_BAR_VARIABLE] = "false"
    # MLflow imported during the call (by a hook, a node, a lazy import...) configures its
    # loggers then, replacing the level set below: at CRITICAL, its lines stay out
    imported = "mlflow" in sys.modules
    mlflow_level = os.environ.get(MLFLOW_LEVEL_VARIABLE)
    if not imported:
        os.environ[MLFLOW_LEVEL_VARIABLE] = "CRITICAL"
    for logger in loggers:
        logger.setLevel(SILENT)
    try:
        with warnings.catch_warnings(record=True) as caught, mlflow_messages_muted():
            warnings.simplefilter("always")
            try:
                yield notes
            finally:
                for warning in caught:
                    note = note_for(str(warning.message))
                    if note is not None and note not in notes:
                        notes.append(note)
        for warning in caught:
            if not from_third_party(warning.filename):
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno or 0
                )
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            # a logger the project's logging configuration set meanwhile (a project loading)
            # keeps that level: outside our calls, Kedro logs as the project configures it
            if logger.level == SILENT:
                logger.setLevel(level)
        restore_variable(PROGRESS_BAR_VARIABLE, progress_bar)
        if not imported:
            restore_variable(MLFLOW_LEVEL_VARIABLE, mlflow_level)
            if "mlflow" in sys.modules:  # imported meanwhile: as its import would have, after us
                from kedro_mlflow_magic.compat import configure_mlflow_loggers

                configure_mlflow_loggers()


def restore_variable(name: str, value: str | None) -> None:
    """Put an environment variable back as it was (``None``: unset)."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextlib.contextmanager
def variables_set(values: Mapping[str, str], *, override: bool = False) -> Iterator[None]:
    """Environment variables set for the duration (one the user set is kept, unless
    ``override``), then put back as they were."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if override or saved[name] is None:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            restore_variable(name, value)


@contextlib.contextmanager
def quiet_kedro(level: int = logging.WARNING) -> Iterator[None]:
    """Kedro logs every load and node at INFO; our internal reads should not flood the notebook.
    Our runs of a pipeline (``level=SILENT``) keep its runner's error lines too: the error we
    raise names the node that failed. A level already higher is kept."""
    kedro_logger = logging.getLogger("kedro")
    level, previous = max(level, kedro_logger.level), kedro_logger.level
    kedro_logger.setLevel(level)
    try:
        yield
    finally:
        kedro_logger.setLevel(previous)


def load_quietly(catalog: DataCatalog, name: str) -> Any:
    with quiet_kedro():
        return catalog.load(name)


@contextlib.contextmanager
def records_dropped(logger_name: str) -> Iterator[None]:
    """Every record of one logger dropped for the duration, whatever its level (a message of
    a library that means nothing where we call it)."""
    logger = logging.getLogger(logger_name)

    def drop(record: logging.LogRecord) -> bool:
        return False

    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


@contextlib.contextmanager
def quiet_project_load() -> Iterator[None]:
    """Loading a project (Kedro's ``%reload_kedro``, or ``%load_ext`` inside a project) without
    its INFO lines and the deprecation warnings of Kedro's dependencies. Kedro configures
    logging from the project's ``logging.yml`` while it loads, which resets the levels
    ``quiet_third_party`` sets, so logging's global threshold holds back WARNING and below for
    the duration; errors still show, and so do the user's own warnings, after the load."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with quiet_third_party():
            yield
    finally:
        logging.disable(previous)
