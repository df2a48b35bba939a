"""Where runs go (docs/explanation/behaviour.md#where-runs-go): the tracking URI, the project's
experiment and its artifact folder."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from sessions import load_project

from kedro_mlflow_magic import log_pipeline_model
from kedro_mlflow_magic.tracking.store import resolve_tracking_uri

NODES = """\
def shift(frame, offset):
    return frame + offset
"""

PIPELINES = """\
flow = pipeline([node(nodes.shift, ["frame", "params:offset"], "shifted")])
return {"flow": flow, "__default__": flow}
"""

FRAME = pd.DataFrame({"value": [1.0, 2.0, 3.0]})


def mlflow_yml(tracking_uri: str) -> dict[str, str]:
    return {"conf/local/mlflow.yml": f"server:\n  mlflow_tracking_uri: {tracking_uri}\n"}


@pytest.fixture
def no_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing chosen by the user: no environment variable, no ``mlflow.set_tracking_uri``."""
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert not mlflow.is_tracking_uri_set()


def test_default_is_sqlite_in_the_project_with_the_experiment_named_after_the_package(
    make_project, no_tracking_uri, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    root = make_project(nodes=NODES, pipelines=PIPELINES, parameters="offset: 1\n")
    project = load_project(root)
    elsewhere = tmp_path / "notebooks"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    info = log_pipeline_model(project.pipelines["flow"], project.catalog, "frame", FRAME)

    assert mlflow.get_tracking_uri() == f"sqlite:///{root}/mlflow.db"
    assert (root / "mlflow.db").is_file()
    assert not (elsewhere / "mlflow.db").exists() and not (elsewhere / "mlruns").exists()
    experiment = mlflow.get_experiment_by_name(project.package)
    assert experiment is not None
    assert experiment.artifact_location == (root / "mlartifacts").as_uri()
    assert mlflow.get_run(info.run_id).info.experiment_id == experiment.experiment_id
    assert list((root / "mlartifacts").rglob("MLmodel"))
    assert list(mlflow.pyfunc.load_model(info.model_uri).predict(FRAME)["value"]) == [2, 3, 4]

    # the notebook moves on to another project: its runs go to that project's store
    other = load_project(make_project(nodes=NODES, pipelines=PIPELINES, parameters="offset: 5\n"))
    other_info = log_pipeline_model(other.pipelines["flow"], other.catalog, "frame", FRAME)
    assert mlflow.get_tracking_uri() == f"sqlite:///{other.root}/mlflow.db"
    assert mlflow.get_experiment_by_name(other.package) is not None
    assert mlflow.get_run(other_info.run_id).info.run_id == other_info.run_id


def test_kedro_mlflow_yml_is_honoured(make_project, no_tracking_uri, tmp_path: Path) -> None:
    absolute = f"sqlite:///{tmp_path / 'team.db'}"
    root = make_project(nodes=NODES, pipelines=PIPELINES, files=mlflow_yml(absolute))
    assert resolve_tracking_uri(root).uri == absolute

    relative = make_project(nodes=NODES, pipelines=PIPELINES, files=mlflow_yml("sqlite:///x.db"))
    assert resolve_tracking_uri(relative).uri == f"sqlite:///{relative}/x.db"


@pytest.mark.parametrize("file_store", ["mlruns", "file:///tmp/mlruns", "./mlruns"])
def test_a_file_store_in_mlflow_yml_is_refused_with_a_warning(
    make_project, no_tracking_uri, caplog: pytest.LogCaptureFixture, file_store: str
) -> None:
    root = make_project(nodes=NODES, pipelines=PIPELINES, files=mlflow_yml(file_store))
    with caplog.at_level(logging.WARNING, logger="kedro_mlflow_magic"):
        assert resolve_tracking_uri(root).uri == f"sqlite:///{root}/mlflow.db"
    assert any(
        "file store" in record.getMessage() and file_store in record.getMessage()
        for record in caplog.records
    )


def test_the_users_choice_wins_over_mlflow_yml(
    make_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    root = make_project(
        nodes=NODES, pipelines=PIPELINES, files=mlflow_yml(f"sqlite:///{tmp_path / 'yml.db'}")
    )
    chosen = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", chosen)
    assert resolve_tracking_uri(root).uri == chosen

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'set.db'}")
    assert resolve_tracking_uri(root).uri == f"sqlite:///{tmp_path / 'set.db'}"


def test_an_active_run_is_used(make_project, mlflow_store: str, tmp_path: Path) -> None:
    import mlflow

    project = load_project(make_project(nodes=NODES, pipelines=PIPELINES, parameters="offset: 2\n"))
    # the user's own experiment; made by set_experiment alone, its artifacts would go to ./mlruns
    # of the folder the store was first opened in (the repository)
    mlflow.create_experiment("notebook-experiment", (tmp_path / "mlruns").as_uri())
    mlflow.set_experiment("notebook-experiment")
    with mlflow.start_run() as run:
        info = log_pipeline_model(project.pipelines["flow"], project.catalog, "frame", FRAME)
        assert mlflow.active_run().info.run_id == run.info.run_id  # still open: the user's run
    assert info.run_id == run.info.run_id
    assert mlflow.get_run(run.info.run_id).info.status == "FINISHED"
    assert mlflow.get_experiment_by_name(project.package) is None
    assert mlflow.get_tracking_uri() == mlflow_store
