"""Nodes that reach outside the model while they run (issue 29): a node that loads a
registered model through MLflow inside its function, against the test session's real sqlite
store, is named in the log's summary with the fix, and the fix works (the model as a catalog
input, pinned at log time); a node's requests to a tracking server that cannot answer fail the
log at once, naming the node, instead of being retried for minutes."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from html import escape
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sessions import LoadedProject, load_project

from kedro_mlflow_magic import prepare_pipeline
from kedro_mlflow_magic.errors import PipelineRunError

ROWS = pd.DataFrame({"x": [1.0, 2.0, 3.0]})

DATASETS = '''
"""An MLflow model in the catalog (the fix: the model as an input of the node)."""

import importlib

from kedro.io import AbstractDataset


class MlflowModelDataset(AbstractDataset):
    def __init__(self, flavor, model_uri, metadata=None):
        self._flavor = flavor
        self._model_uri = model_uri
        self.metadata = metadata

    def load(self):
        return importlib.import_module(self._flavor).load_model(self._model_uri)

    def save(self, data):
        raise NotImplementedError

    def _describe(self):
        return {"flavor": self._flavor, "model_uri": self._model_uri}
'''

NODES = """
import mlflow
import pandas as pd


def score_with_champion(rows, model_name):
    # reaches the registry on every call: the champion as the alias names it now
    model = mlflow.sklearn.load_model(f"models:/{model_name}@champion")
    return pd.DataFrame({"score": model.predict(rows[["x"]])})


def score(rows, model):
    return pd.DataFrame({"score": model.predict(rows[["x"]])})


def with_run_count(rows, experiment):
    mlflow.search_runs(search_all_experiments=True)  # their number changes as runs are made
    return rows.assign(searched=True)


def ask_server(rows, server):
    mlflow.MlflowClient(tracking_uri=server).search_experiments()
    return rows
"""

PIPELINES = """
return {
    "champion": pipeline([node(nodes.score_with_champion, ["rows", "params:model_name"],
                               "scores", name="score_with_champion")]),
    "pinned": pipeline([node(nodes.score, ["rows", "champion"], "scores", name="score")]),
    "runs": pipeline([node(nodes.with_run_count, ["rows", "params:experiment"], "counted",
                           name="count_runs")]),
    "server": pipeline([node(nodes.ask_server, ["rows", "params:server"], "asked",
                             name="ask_server")]),
}
"""


def fitted(slope: float):
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"x": np.arange(10, dtype=float)})
    return LinearRegression().fit(frame, slope * frame["x"])


@pytest.fixture
def registered(tmp_path: Path) -> str:
    """A scikit-learn model registered in the test session's sqlite store, its alias
    ``champion`` on version 1 (y = 2x)."""
    experiment_id = mlflow.create_experiment(
        f"outside-{tmp_path.name}", artifact_location=(tmp_path / "store").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    name = f"champion-{tmp_path.name}"
    with mlflow.start_run(run_name="training"):
        mlflow.sklearn.log_model(fitted(2.0), name="m", registered_model_name=name)
    mlflow.MlflowClient().set_registered_model_alias(name, "champion", "1")
    return name


def reaching_project(make_project, name: str, server: str = "") -> LoadedProject:
    root = make_project(
        NODES, PIPELINES,
        catalog=(
            "champion:\n  type: {package}.datasets.MlflowModelDataset\n"
            f"  flavor: mlflow.sklearn\n  model_uri: models:/{name}@champion\n"
        ),
        parameters=f"model_name: {name}\nexperiment: outside-runs\nserver: '{server}'\n",
    )  # fmt: skip
    (package,) = [path for path in (root / "src").iterdir() if path.name.startswith("project_")]
    (package / "datasets.py").write_text(DATASETS)
    catalog = root / "conf" / "base" / "catalog.yml"
    catalog.write_text(catalog.read_text().replace("{package}", package.name))
    return load_project(root)


def test_a_node_loading_a_registered_model_is_named_with_the_fix(make_project, registered):
    project = reaching_project(make_project, registered)
    prepared = prepare_pipeline(project.pipelines["champion"], project.catalog, "rows", ROWS)
    logged = prepared.log()

    (note,) = [note for note in logged.notes if "reaches the MLflow" in note]
    assert note.startswith("node 'score_with_champion' reaches the MLflow model registry")
    assert "get_model_version_by_alias" in note
    assert "MlflowModelRegistryDataset" in note and "model_uri and flavor" in note
    assert note in str(logged)
    assert escape(note) in logged.summary_html()

    # the fix: the model as the node's input from the catalog, pinned when logged
    fixed = prepare_pipeline(project.pipelines["pinned"], project.catalog, "rows", ROWS).log()
    assert not [note for note in fixed.notes if "reaches the MLflow" in note]
    assert fixed.sources and f"{registered} version 1" in fixed.sources[0][1]
    client = mlflow.MlflowClient()
    with mlflow.start_run(run_name="retrained"):
        mlflow.sklearn.log_model(fitted(3.0), name="m", registered_model_name=registered)
    client.set_registered_model_alias(registered, "champion", "2")
    reloaded = mlflow.pyfunc.load_model(fixed.model_info.model_uri)
    assert list(reloaded.predict(ROWS)["score"]) == pytest.approx([2.0, 4.0, 6.0])


def test_a_node_searching_runs_is_named(make_project, registered):
    project = reaching_project(make_project, registered)
    prepared = prepare_pipeline(project.pipelines["runs"], project.catalog, "rows", ROWS)
    notes = prepared.log().notes
    (note,) = [note for note in notes if "reaches the MLflow" in note]
    assert note.startswith("node 'count_runs' reaches the MLflow tracking store")
    assert "search_runs" in note


@contextlib.contextmanager
def hanging_up_server() -> Iterator[tuple[str, list[int]]]:
    """A TCP server on 127.0.0.1 that accepts each connection and closes it at once, as a
    tracking server that cannot answer; yields its URL and the list of connections made."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(1)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", connections
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_a_node_asking_a_server_that_hangs_up_fails_at_once_and_is_named(make_project, registered):
    with hanging_up_server() as (url, connections):
        project = reaching_project(make_project, registered, server=url)
        with pytest.raises(PipelineRunError) as caught:
            prepare_pipeline(project.pipelines["server"], project.catalog, "rows", ROWS).log()
    message = str(caught.value)
    assert message.startswith("node 'ask_server' failed: MlflowException: ")
    assert "it reached the MLflow tracking store while it ran" in message
    assert "\n" not in message
    # one request, not retried: MLflow's default would try 8 times over minutes
    assert len(connections) == 1
