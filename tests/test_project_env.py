"""``--env ENV`` reads ``conf/ENV`` as ``kedro run --env ENV`` does, for the hook (a real
``kedro run --env`` in a subprocess) and the shell command: with ``conf/prod/mlflow.yml``
naming a store and ``MLFLOW_TRACKING_URI`` unset, the models land in prod's store; the
hook's ``on_error`` of an environment's ``mlflow_magic.yml`` is honoured or, when bad, named."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from sessions import tool_environment

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
SETTINGS = """\
from kedro_mlflow_magic.hooks import LogModelHook

HOOKS = (
    LogModelHook(after="training", pipeline="inference", data_input="customers_to_score",
                 sample="customers"),
)
"""
ENVIRONMENTS = {
    "conf/prod/mlflow.yml": "server:\n  mlflow_tracking_uri: sqlite:///prod.db\n",
    # a log that fails (no such output), which this environment only warns about
    "conf/lenient/mlflow_magic.yml": "log_model:\n  on_error: warn\n  output: no_such_output\n",
    "conf/strict/mlflow_magic.yml": "log_model:\n  on_error: Warn\n",
}


def run(command: list[str], root: Path) -> subprocess.CompletedProcess:
    """A command in ``root`` with MLflow's choice of store left to the project."""
    environment = tool_environment(drop=("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT"))
    return subprocess.run(
        command, cwd=root, env=environment, capture_output=True, text=True, timeout=900
    )


def ready_models(database: Path) -> list[str]:
    """The ids of the READY logged models in a sqlite store (none when it does not exist)."""
    import mlflow
    from mlflow.entities import LoggedModelStatus

    if not database.is_file():
        return []
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{database}")
    return [
        model.model_id
        for experiment in client.search_experiments()
        for model in client.search_logged_models([experiment.experiment_id])
        if model.status == LoggedModelStatus.READY
    ]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo project with the hook in its settings and the environments above."""
    from kedro_mlflow_magic.demo import create_demo_project

    root = create_demo_project(tmp_path_factory.mktemp("envs") / "project", "churn_envs")
    (root / "src" / "churn_envs" / "settings.py").write_text(SETTINGS)
    for relative, text in ENVIRONMENTS.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    yield root


@dataclass
class Training:
    """``kedro run --pipeline training --env prod`` and the READY models of each store right
    after it, read before any test of this module (they run in any order) logs more."""

    finished: subprocess.CompletedProcess
    ready: dict[str, list[str]]

    @property
    def returncode(self) -> int:
        return self.finished.returncode

    @property
    def stderr(self) -> str:
        return self.finished.stderr


@pytest.fixture(scope="module")
def prod_training(project: Path) -> Training:
    """The training with the environment prod, and the hook's log."""
    finished = run([str(BIN / "kedro"), "run", "--pipeline", "training", "--env", "prod"], project)
    ready = {name: ready_models(project / name) for name in ("prod.db", "mlflow.db")}
    return Training(finished, ready)


def test_the_hook_logs_into_the_store_of_kedro_run_env(prod_training: Training) -> None:
    assert prod_training.returncode == 0, prod_training.stderr[-3000:]
    assert len(prod_training.ready["prod.db"]) == 1
    assert prod_training.ready["mlflow.db"] == []  # the default store stays empty


def test_the_shell_command_logs_and_predicts_in_the_store_of_its_env(
    project: Path, prod_training: Training, tmp_path: Path
) -> None:
    assert prod_training.returncode == 0, prod_training.stderr[-3000:]
    before = set(ready_models(project / "prod.db"))
    logged = run(
        [str(BIN / "kedro-mlflow-magic"), "log", "inference", "--input", "customers_to_score",
         "--sample", "customers", "--env", "prod"],
        project,
    )  # fmt: skip
    assert logged.returncode == 0, logged.stderr[-3000:]
    (model_id,) = set(ready_models(project / "prod.db")) - before
    assert ready_models(project / "mlflow.db") == []

    data = tmp_path / "customers.csv"
    # the rows of the sample the model was logged with (--sample customers)
    customers = pd.read_csv(project / "data" / "01_raw" / "customers.csv").head(5)
    customers.to_csv(data, index=False)
    predict = [
        str(BIN / "kedro-mlflow-magic"),
        "predict",
        f"models:/{model_id}",
        "--data",
        str(data),
    ]
    predicted = run([*predict, "--env", "prod"], project)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert len(predicted.stdout.strip().splitlines()) == 1 + len(customers)  # header + rows
    # conf/local names no store: the default one, which does not hold the model (exit 2)
    elsewhere = run(predict, project)
    assert elsewhere.returncode == 2, elsewhere.stderr[-3000:]


def test_on_error_warn_of_an_environment_lets_the_run_succeed(
    project: Path, prod_training: Training
) -> None:
    assert prod_training.returncode == 0, prod_training.stderr[-3000:]
    lenient = run(
        [str(BIN / "kedro"), "run", "--pipeline", "training", "--env", "lenient"], project
    )
    assert lenient.returncode == 0, lenient.stderr[-3000:]
    printed = lenient.stdout + lenient.stderr
    assert "could not log pipeline 'inference' after the run of 'training'" in printed
    assert "on_error='warn': the run still succeeds" in printed


def test_a_bad_on_error_of_an_environment_fails_in_one_line_naming_key_and_file(
    project: Path,
) -> None:
    strict = run([str(BIN / "kedro"), "run", "--pipeline", "training", "--env", "strict"], project)
    assert strict.returncode != 0
    assert (
        "conf/strict/mlflow_magic.yml: log_model.on_error must be 'fail' or 'warn', not 'Warn'"
        in strict.stdout + strict.stderr
    )
