"""What the shell keeps quiet: the same third-party loggers the magics quiet around each call
(``quiet.THIRD_PARTY_LOGGERS``), for the whole command, unless ``--verbose``; and the steps it
shows instead, on a terminal."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kedro_mlflow_magic.quiet import MLFLOW_LEVEL_VARIABLE, THIRD_PARTY_LOGGERS

if TYPE_CHECKING:
    from kedro_mlflow_magic.progress import Progress

# Kedro's logging configuration while quiet: WARNING and above (Kedro reads the variable when
# a session configures logging).
QUIET_KEDRO_LOGGING = Path(__file__).parents[1] / "demo" / "logging.yml"
# A node that fails on the sample is logged by Kedro, then said again in our one line.
KEDRO_LOGGERS = ("kedro", "kedro.pipeline", "kedro.runner", "kedro.io")


def quiet_libraries(verbose: bool) -> None:
    """Kedro's and MLflow's INFO logs and OmegaConf's deprecation warnings would bury the
    command's output; ``--verbose`` keeps them. The variables count when Kedro or MLflow is
    imported later; the levels when it already was (``kedro mlflow-magic``) and after a
    session configured logging, so the commands apply this again at each step."""
    if verbose:
        return
    os.environ.setdefault("KEDRO_LOGGING_CONFIG", str(QUIET_KEDRO_LOGGING))
    os.environ.setdefault(MLFLOW_LEVEL_VARIABLE, "WARNING")
    warnings.filterwarnings("ignore", message=".*register_new_resolver.*")
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # the children too: the core quiets the "kedro" logger to WARNING, and back, around its runs
    for name in KEDRO_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def terminal_progress(verbose: bool) -> Progress:
    """Each step on stderr when a person watches it (a terminal); nothing when piped."""
    from kedro_mlflow_magic.progress import DONE

    stream = sys.stderr
    watched = stream.isatty()

    def say(step: str) -> None:
        quiet_libraries(verbose)  # a KedroSession may have configured logging since
        if watched and step != DONE:
            click.echo(f"... {step}", file=stream)

    return say


@contextlib.contextmanager
def mlflow_prints_hidden(verbose: bool) -> Iterator[None]:
    """MLflow prints some news straight to stderr ("Successfully registered model..."): our
    summary on stdout says it already."""
    if verbose:
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()):
        yield
