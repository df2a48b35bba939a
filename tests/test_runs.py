"""The MLflow run a model is logged into, and its registration (``runs``), on the real sqlite
store of the test session: which run is chosen and why, how it ends, what is left on MLflow's
run stack, and what a failure leaves behind."""

from __future__ import annotations

import os
import uuid

import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import PERMISSION_DENIED, RESOURCE_DOES_NOT_EXIST

from kedro_mlflow_magic.errors import ExperimentError, TrackingAccessError
from kedro_mlflow_magic.tracking.runs import (
    NO_RUN_LINKS,
    failed_model_marked,
    logging_run,
    no_run_links,
    register,
    tracking_access,
)
from kedro_mlflow_magic.tracking.store import ExperimentChoice


@pytest.fixture
def chosen(tmp_path) -> ExperimentChoice:
    """An experiment of the test's own, chosen as a log chooses it (not named by the caller)."""
    name = f"runs-{uuid.uuid4().hex[:8]}"
    return ExperimentChoice(name, False, name, tmp_path)


@pytest.fixture
def experiment_id(chosen: ExperimentChoice) -> str:
    return chosen.experiment_id()


def status(run_id: str) -> str:
    import mlflow

    return mlflow.MlflowClient().get_run(run_id).info.status


def test_without_an_active_run_a_new_run_is_started_and_finished(
    chosen: ExperimentChoice, experiment_id: str
) -> None:
    import mlflow

    with logging_run(chosen, run_name="logged") as choice:
        assert choice.reason == "a new run"
        assert mlflow.active_run().info.run_id == choice.run_id
        run = mlflow.get_run(choice.run_id)
        assert run.info.status == "RUNNING" and run.info.experiment_id == experiment_id
        assert run.info.run_name == "logged"
    assert status(choice.run_id) == "FINISHED"
    assert mlflow.active_run() is None, "the run is not left on the user's stack"


def test_an_active_live_run_is_used_and_left_running(
    chosen: ExperimentChoice, experiment_id: str
) -> None:
    import mlflow

    active = mlflow.start_run(experiment_id=experiment_id)
    with logging_run(chosen) as choice:
        assert choice == type(choice)(active.info.run_id, "the active run")
    assert mlflow.active_run().info.run_id == active.info.run_id
    assert status(active.info.run_id) == "RUNNING"
    mlflow.end_run()


def test_an_active_run_another_tool_ended_is_passed_over_saying_so(
    chosen: ExperimentChoice, experiment_id: str
) -> None:
    import mlflow

    active = mlflow.start_run(experiment_id=experiment_id)
    mlflow.MlflowClient().set_terminated(active.info.run_id)  # as another process would
    with logging_run(chosen) as choice:
        assert choice.run_id != active.info.run_id
    assert f"the active run {active.info.run_id} had already ended" in choice.reason
    assert mlflow.active_run().info.run_id == active.info.run_id, "the stack is as it was"
    assert status(choice.run_id) == "FINISHED"
    mlflow.end_run()


def test_a_run_asked_for_is_resumed_and_finished(
    chosen: ExperimentChoice, experiment_id: str
) -> None:
    import mlflow

    earlier = mlflow.MlflowClient().create_run(experiment_id)
    mlflow.MlflowClient().set_terminated(earlier.info.run_id)
    with logging_run(chosen, run_id=earlier.info.run_id) as choice:
        assert choice.run_id == earlier.info.run_id and choice.reason == "the run asked for"
        assert status(earlier.info.run_id) == "RUNNING"
    assert status(earlier.info.run_id) == "FINISHED"
    assert mlflow.active_run() is None


def test_an_active_run_in_another_experiment_than_the_named_one_is_an_error(
    chosen: ExperimentChoice,
) -> None:
    import mlflow

    other = mlflow.MlflowClient().create_experiment(f"other-{uuid.uuid4().hex[:8]}")
    active = mlflow.start_run(experiment_id=other)
    with (
        pytest.raises(ExperimentError, match=rf"run {active.info.run_id} is active in another .*'chosen'; end it"),
        logging_run(ExperimentChoice("chosen", True, "chosen", chosen.project_root)),
    ):  # fmt: skip
        pytest.fail("no run is chosen")
    mlflow.end_run()


def test_a_failed_log_fails_its_run_and_the_error_stands(
    chosen: ExperimentChoice, experiment_id: str
) -> None:
    import mlflow

    with pytest.raises(ValueError, match="the log broke"), logging_run(chosen) as choice:  # fmt: skip
        raise ValueError("the log broke")
    assert status(choice.run_id) == "FAILED"
    assert mlflow.active_run() is None


def test_no_run_links_silences_mlflow_and_puts_the_variable_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(NO_RUN_LINKS, raising=False)
    with no_run_links():
        assert os.environ[NO_RUN_LINKS] == "true"
    assert NO_RUN_LINKS not in os.environ
    monkeypatch.setenv(NO_RUN_LINKS, "false")
    with no_run_links():
        assert os.environ[NO_RUN_LINKS] == "true"
    assert os.environ[NO_RUN_LINKS] == "false"


def test_a_model_logged_before_a_failure_is_marked_failed(experiment_id: str) -> None:
    import mlflow

    kept = mlflow.initialize_logged_model(name="kept", experiment_id=experiment_id)
    mlflow.MlflowClient().finalize_logged_model(kept.model_id, LoggedModelStatus.READY)
    with pytest.raises(RuntimeError, match="verification failed"), failed_model_marked(kept.model_id):  # fmt: skip
        half_done = mlflow.initialize_logged_model(name="half", experiment_id=experiment_id)
        raise RuntimeError("verification failed")
    client = mlflow.MlflowClient()
    assert client.get_logged_model(half_done.model_id).status == LoggedModelStatus.FAILED
    assert client.get_logged_model(kept.model_id).status == LoggedModelStatus.READY


def test_registering_sets_the_alias_on_the_new_version(experiment_id: str) -> None:
    import mlflow

    name = f"registered-{uuid.uuid4().hex[:8]}"
    model = mlflow.initialize_logged_model(name="m", experiment_id=experiment_id)
    version = register(f"models:/{model.model_id}", name, "champion")
    assert str(version.version) == "1"
    aliased = mlflow.MlflowClient().get_model_version_by_alias(name, "champion")
    assert str(aliased.version) == str(version.version)


def test_a_refused_request_is_one_error_naming_the_server_and_what_was_refused() -> None:
    refused = MlflowException("no", error_code=PERMISSION_DENIED)
    with (
        pytest.raises(TrackingAccessError) as raised,
        tracking_access("http://127.0.0.1:5000", lambda: "the experiment 'x'"),
    ):
        raise refused
    assert "http://127.0.0.1:5000" in str(raised.value) and "the experiment 'x'" in str(
        raised.value
    )
    other = MlflowException("not found", error_code=RESOURCE_DOES_NOT_EXIST)
    with pytest.raises(MlflowException, match="not found"), tracking_access("s", lambda: None):
        raise other
