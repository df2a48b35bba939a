"""The MLflow run a model is logged into, and its registration (which run and why:
docs/explanation/behaviour.md#where-runs-go)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mlflow
from mlflow.entities import LoggedModelStatus

from kedro_mlflow_magic.compat import run_stack_set_aside
from kedro_mlflow_magic.errors import (
    ExperimentError,
    TrackingAccessError,
    http_status,
    masked_url,
)

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from kedro_mlflow_magic.tracking.store import ExperimentChoice

logger = logging.getLogger(__name__)

# MLflow prints "View run ... at: <server URL>" when a run ends on a tracking server; the URL
# may carry user:password, and our summary names the run anyway.
NO_RUN_LINKS = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"


@contextlib.contextmanager
def no_run_links() -> Iterator[None]:
    """MLflow's run-link lines silenced for the duration (put back as they were)."""
    before = os.environ.get(NO_RUN_LINKS)
    os.environ[NO_RUN_LINKS] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(NO_RUN_LINKS, None)
        else:
            os.environ[NO_RUN_LINKS] = before


@contextlib.contextmanager
def tracking_access(server: str, resource: Callable[[], str | None]) -> Iterator[None]:
    """The tracking server's 401/403 answers as one ``TrackingAccessError`` naming the server,
    what was refused (``resource()``, asked only then) and the fix."""
    try:
        yield
    except Exception as error:
        status = http_status(error)
        if status not in (401, 403):
            raise
        raise TrackingAccessError(server, status, resource() if status == 403 else None) from None


def last_model_id() -> str | None:
    """The id of the model logged last in this thread, if any (None when the server says no)."""
    try:
        model = mlflow.last_logged_model()
    except Exception:
        return None
    return None if model is None else model.model_id


@contextlib.contextmanager
def failed_model_marked(before: str | None) -> Iterator[None]:
    """When the log fails after MLflow created its logged model, that model is marked FAILED
    (MLflow 3's ``LoggedModelStatus``), so that no half-done log stays READY."""
    try:
        yield
    except BaseException:
        model_id = last_model_id()
        if model_id is not None and model_id != before:
            mark_failed(model_id)
        raise


def mark_failed(model_id: str) -> None:

    try:
        mlflow.MlflowClient().finalize_logged_model(model_id, LoggedModelStatus.FAILED)
    except Exception as error:  # the server may refuse this too: say so, keep the first error
        logger.warning(
            "could not mark the logged model %s FAILED: %s", model_id, masked_url(str(error))
        )


@dataclass(frozen=True)
class RunChoice:
    """The run a model went into, and why that one."""

    run_id: str
    reason: str


def live(run_id: str) -> bool:
    """Whether the tracking store still has the run RUNNING (not ended by the tool that left it
    on MLflow's stack)."""
    return mlflow.MlflowClient().get_run(run_id).info.status == "RUNNING"


@contextlib.contextmanager
def started_run(
    experiment_id: str | None, run_id: str | None, run_name: str | None, reason: str
) -> Iterator[RunChoice]:
    """A run started (or resumed) for this log alone, on an otherwise empty run stack: FINISHED
    at the end, FAILED when logging fails; MLflow's stack is left as it was found."""
    with run_stack_set_aside():
        run = mlflow.start_run(run_id=run_id, experiment_id=experiment_id, run_name=run_name)
        try:
            yield RunChoice(run.info.run_id, reason)
        except BaseException:
            with no_run_links(), contextlib.suppress(Exception):
                # a server that refused the log may refuse this too: the first error stands
                mlflow.end_run(status="FAILED")
            raise
        with no_run_links():
            mlflow.end_run()


@contextlib.contextmanager
def logging_run(
    experiment: ExperimentChoice, *, run_id: str | None = None, run_name: str | None = None
) -> Iterator[RunChoice]:
    """The run to log into: ``run_id`` when given; else the active run when the store has it
    live (refused when it is in another experiment than one the caller asked for); else a new
    run (named ``run_name``) in the chosen experiment (looked up only then)."""
    active = mlflow.active_run()
    if run_id is not None:
        if active is not None and active.info.run_id == run_id and live(run_id):
            yield RunChoice(run_id, "the active run, as asked")
            return
        with started_run(None, run_id, None, "the run asked for") as choice:
            yield choice
        return
    if active is not None and live(active.info.run_id):
        if experiment.asked and active.info.experiment_id != experiment.experiment_id():
            raise ExperimentError(
                f"run {active.info.run_id} is active in another experiment than "
                f"'{experiment.name}'; end it (mlflow.end_run()) or leave out the experiment"
            )
        yield RunChoice(active.info.run_id, "the active run")
        return
    reason = "a new run"
    if active is not None:
        reason = (
            f"a new run: the active run {active.info.run_id} had already ended "
            "(another tool left it on MLflow's run stack)"
        )
    with started_run(experiment.experiment_id(), None, run_name, reason) as choice:
        yield choice


def register(model_uri: str, registered_model_name: str, alias: str | None) -> ModelVersion:
    """Register the logged model (after its parity check) and set the alias on the version."""
    version = mlflow.register_model(model_uri, registered_model_name)
    if alias:
        client = mlflow.MlflowClient()
        try:
            client.set_registered_model_alias(registered_model_name, alias, version.version)
        except BaseException:
            # the model is about to be marked FAILED: no version may point at it
            try:
                client.delete_model_version(registered_model_name, version.version)
            except Exception as error:  # the first error stands; say what is left behind
                logger.warning(
                    "could not delete version %s of '%s' (its model failed to log): %s",
                    version.version, registered_model_name, masked_url(str(error)),
                )  # fmt: skip
            raise
    return version
