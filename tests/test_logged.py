"""What one log produced (``build/logged.py``): the result and its MLflow ``ModelInfo`` show the
same summary, and the environment check comes back as a new result from the core
(``with_environment_check``), the log's own result left as it was."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kedro_mlflow_magic.build.logged import LoggedModel
from kedro_mlflow_magic.errors import EnvironmentCheckError
from kedro_mlflow_magic.verify.environment_check import with_environment_check
from kedro_mlflow_magic.verify.parity import compare_results


@pytest.fixture
def logged(tmp_path: Path) -> LoggedModel:
    """A real model logged into the test store, and the result a log would return for it."""
    import mlflow
    from sklearn.dummy import DummyClassifier

    experiment = mlflow.create_experiment(tmp_path.name, artifact_location=tmp_path.as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        info = mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="m")
    frame = pd.DataFrame({"p": [0, 1]})
    return LoggedModel(
        model_info=info, comparison=compare_results(frame, frame), run_id=run.info.run_id,
        run_reason="a new run", tracking_uri=mlflow.get_tracking_uri(), experiment_id=experiment,
    )  # fmt: skip


def test_the_model_info_of_a_log_is_mlflows_shown_as_the_logs_summary(
    logged: LoggedModel,
) -> None:
    from mlflow.models.model import ModelInfo

    info = logged.model_info
    assert isinstance(info, ModelInfo) and info.model_uri.startswith("models:/")
    assert info.model_id and info.run_id == logged.run_id
    assert str(info) == repr(info) == str(logged)
    assert info._repr_html_() == logged._repr_html_()
    assert info.model_uri in str(logged) and "parity check" in str(logged)


def test_the_environment_check_is_a_new_result_and_the_log_stays_as_it_was(
    logged: LoggedModel,
) -> None:
    checked = with_environment_check(logged, env_manager="conda")
    assert logged.environment_check is None and "environment" not in str(logged)
    assert isinstance(checked.environment_check, EnvironmentCheckError)
    assert checked.model_info.model_uri == logged.model_info.model_uri
    assert checked.model_info.logged is checked
    line = next(line for line in str(checked.model_info).splitlines() if "environment" in line)
    assert "FAILED: env_manager 'conda' is not one of uv, virtualenv" in line
