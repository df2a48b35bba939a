"""The MLflow run a model is logged into, and its registration (SPEC 7)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mlflow

from kedro_mlflow_magic.compat import run_stack_set_aside
from kedro_mlflow_magic.errors import ExperimentError

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion


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
            mlflow.end_run(status="FAILED")
            raise
        mlflow.end_run()


@contextlib.contextmanager
def logging_run(
    experiment: Callable[[], str | None],
    *,
    experiment_named: str | None = None,
    run_id: str | None = None,
    run_name: str | None = None,
) -> Iterator[RunChoice]:
    """The run to log into: ``run_id`` when given; else the active run when the store has it
    live; else a new run (named ``run_name``) in the experiment that ``experiment()`` gives
    (called only then, or to check the active run against a chosen ``experiment_named``)."""
    active = mlflow.active_run()
    if run_id is not None:
        if active is not None and active.info.run_id == run_id and live(run_id):
            yield RunChoice(run_id, "the active run, as asked")
            return
        with started_run(None, run_id, None, "the run asked for") as choice:
            yield choice
        return
    if active is not None and live(active.info.run_id):
        if experiment_named is not None and active.info.experiment_id != experiment():
            raise ExperimentError(
                f"run {active.info.run_id} is active in another experiment than "
                f"'{experiment_named}'; end it (mlflow.end_run()) or leave out the experiment"
            )
        yield RunChoice(active.info.run_id, "the active run")
        return
    reason = "a new run"
    if active is not None:
        reason = (
            f"a new run: the active run {active.info.run_id} had already ended "
            "(another tool left it on MLflow's run stack)"
        )
    with started_run(experiment(), None, run_name, reason) as choice:
        yield choice


def register(model_uri: str, registered_model_name: str, alias: str | None) -> ModelVersion:
    """Register the logged model (after its parity check) and set the alias on the version."""
    version = mlflow.register_model(model_uri, registered_model_name)
    if alias:
        mlflow.MlflowClient().set_registered_model_alias(
            registered_model_name, alias, version.version
        )
    return version
