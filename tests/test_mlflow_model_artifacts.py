"""MLflow models as artifacts (docs/explanation/behaviour.md#mlflow-models-as-artifacts), without
kedro-mlflow: a catalog entry of the project's own dataset type that names an MLflow model folder,
or a ``models:/`` / ``runs:/`` URI, with a ``flavor``. The MLflow models are real (scikit-learn,
saved and logged into the test's sqlite store); kedro-mlflow's own datasets are in
test_kedro_mlflow_datasets.py (a venv of its own)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from model_files import manifest_of, model_folder
from sessions import LoadedProject, load_project

from kedro_mlflow_magic import inspect_pipeline, prepare_pipeline

DATASETS = '''
"""An MLflow model in the catalog, the way projects without kedro-mlflow declare one."""

import importlib

from kedro.io import AbstractDataset


class MlflowModelDataset(AbstractDataset):
    def __init__(self, flavor, filepath=None, model_uri=None, load_args=None, metadata=None):
        self._flavor = flavor
        self._filepath = filepath
        self._model_uri = model_uri
        self._load_args = load_args or {}
        self.metadata = metadata

    def load(self):
        module = importlib.import_module(self._flavor)
        return module.load_model(self._model_uri or self._filepath, **self._load_args)

    def save(self, data):
        raise NotImplementedError

    def _describe(self):
        return {"flavor": self._flavor, "filepath": self._filepath, "model_uri": self._model_uri}
'''

NODES = """
import pandas as pd


def score(rows: pd.DataFrame, model) -> pd.DataFrame:
    return pd.DataFrame({"score": model.predict(rows[["x"]])})
"""

PIPELINES = """
return {"scoring": pipeline([node(nodes.score, ["rows", "model"], "scores", name="score")])}
"""

CATALOG = """
model:
  type: {package}.datasets.MlflowModelDataset
  flavor: mlflow.sklearn
  {where}
"""

ROWS = pd.DataFrame({"x": [1.0, 2.0, 3.0]})


def fitted(slope: float):
    """A real scikit-learn model: ``y = slope * x``."""
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"x": np.arange(10, dtype=float)})
    return LinearRegression().fit(frame, slope * frame["x"])


def project_with_model(make_project, where: str) -> LoadedProject:
    root = make_project(NODES, PIPELINES)
    (package,) = [path for path in (root / "src").iterdir() if path.name.startswith("project_")]
    (package / "datasets.py").write_text(DATASETS)
    catalog = CATALOG.format(package=package.name, where=where)
    (root / "conf" / "base" / "catalog.yml").write_text(catalog)
    return load_project(root)


@pytest.fixture
def experiment(tmp_path: Path) -> str:
    import mlflow

    experiment_id = mlflow.create_experiment(
        f"mlflow-models-{tmp_path.name}", artifact_location=(tmp_path / "store").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


LOADER = textwrap.dedent(
    """\
    import sys

    sys.modules["kedro_mlflow"] = None  # kedro-mlflow is not there
    sys.modules["kedro_mlflow_magic"] = None  # nor this package
    import mlflow
    import pandas as pd

    model = mlflow.pyfunc.load_model(sys.argv[1])
    predicted = model.predict(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))["score"]
    print("PREDICTED", [round(float(value), 6) for value in predicted])
    """
)


def predict_elsewhere(folder: Path, workspace: Path) -> str:
    """Predict from a copy of the model folder, in a fresh process, with a tracking URI that
    holds nothing (an empty sqlite store) and without kedro-mlflow nor this package."""
    import os

    copy = workspace / "copied-model"
    shutil.copytree(folder, copy)
    (workspace / "load.py").write_text(LOADER)
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")
    }
    environment["MLFLOW_TRACKING_URI"] = f"sqlite:///{workspace / 'empty.db'}"
    finished = subprocess.run(
        [sys.executable, "load.py", str(copy)],
        cwd=workspace, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout


@pytest.mark.slow  # predicts in a subprocess
def test_a_local_model_folder_with_a_flavor_is_an_artifact_loaded_with_its_flavor(
    make_project, experiment, tmp_path
) -> None:
    import mlflow

    folder = tmp_path / "saved" / "doubling"
    # a flavor that pickles the model: the suite's scan lets an MLflow model's own files be
    mlflow.sklearn.save_model(fitted(2.0), str(folder), serialization_format="cloudpickle")
    # the saved model's requirements: one pinned to another release, one not installed here
    listed = (folder / "requirements.txt").read_text().splitlines()
    listed = [line for line in listed if not line.startswith("scikit-learn")]
    listed += ["scikit-learn==0.20.0", "not-installed-here-7c1e==1.0"]
    (folder / "requirements.txt").write_text("\n".join(listed) + "\n")
    project = project_with_model(make_project, f"filepath: {folder.as_posix()}")

    roles = inspect_pipeline(project.pipelines["scoring"], project.catalog, "rows")
    assert not roles.problems, roles.problems
    assert roles.artifacts["model"].mlflow_model.flavor == "mlflow.sklearn"
    assert f"mlflow.sklearn model {folder.as_posix()}" in str(roles)

    logged = prepare_pipeline(project.pipelines["scoring"], project.catalog, "rows", ROWS).log()
    model_files = model_folder(logged.model_info.model_uri)
    (entry,) = manifest_of(model_files)["artifacts"]
    assert entry["flavor"] == "mlflow.sklearn"
    assert entry["source"]["uri"] == folder.as_posix()
    nested = model_files / "artifacts" / entry["artifact"] / entry["file"]
    assert sorted(path.name for path in nested.iterdir()) == sorted(
        path.name for path in folder.iterdir()
    )  # the MLflow model's own files, MLmodel among them
    assert "MlflowModelDataset" not in str(entry["config"])
    # no pickle of the estimator of ours: the nested model is the MLflow model's own files
    assert not (model_files / "artifacts" / entry["artifact"] / "value.pkl").exists()

    # merged into ours, pinned to what is installed (what parity ran with), with notes
    from importlib.metadata import version

    requirements = (model_files / "requirements.txt").read_text().splitlines()
    assert f"scikit-learn=={version('scikit-learn')}" in requirements
    assert "not-installed-here-7c1e==1.0" in requirements
    notes = "\n".join(logged.notes)
    assert "'model' was saved with scikit-learn==0.20.0" in notes
    assert "requires not-installed-here-7c1e==1.0, which is not installed here" in notes
    assert "note" in str(logged) and "scikit-learn==0.20.0" in str(logged)

    shutil.rmtree(folder.parent)  # the source is gone: the model holds its own copy
    reloaded = mlflow.pyfunc.load_model(logged.model_info.model_uri)
    assert list(reloaded.predict(ROWS)["score"]) == pytest.approx([2.0, 4.0, 6.0])
    printed = predict_elsewhere(model_files, tmp_path / "elsewhere")
    assert "PREDICTED [2.0, 4.0, 6.0]" in printed


@pytest.mark.slow  # predicts in a subprocess
def test_a_registered_alias_is_pinned_to_its_version_and_moving_it_changes_nothing(
    make_project, experiment, tmp_path
) -> None:
    import mlflow

    name = f"prices-{tmp_path.name}"
    with mlflow.start_run(run_name="training"):
        first = mlflow.sklearn.log_model(fitted(2.0), name="m", registered_model_name=name)
        mlflow.sklearn.log_model(fitted(3.0), name="m", registered_model_name=name)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(name, "champion", "1")
    project = project_with_model(make_project, f"model_uri: models:/{name}@champion")

    prepared = prepare_pipeline(project.pipelines["scoring"], project.catalog, "rows", ROWS)
    source = prepared.roles.artifacts["model"].mlflow_model
    assert (source.pinned_uri, source.registered_name, source.version) == (
        f"models:/{name}/1", name, "1",
    )  # fmt: skip
    assert source.model_id == first.model_id
    assert f"{name} version 1" in str(prepared.roles)
    logged = prepared.log()
    assert ("artifact model", source.describe()) in [
        (label, value) for label, value in logged_facts_of(logged)
    ]
    assert f"{name} version 1" in str(logged)

    client.set_registered_model_alias(name, "champion", "2")  # moved after logging
    assert list(project.catalog.load("model").predict(ROWS[["x"]])) == pytest.approx([3, 6, 9])
    model_files = model_folder(logged.model_info.model_uri)
    (entry,) = manifest_of(model_files)["artifacts"]
    assert entry["source"] == {
        "uri": f"models:/{name}@champion", "pinned_uri": f"models:/{name}/1",
        "flavor": "mlflow.sklearn", "registered_name": name, "version": "1",
        "model_id": first.model_id, "run_id": first.run_id,
    }  # fmt: skip
    reloaded = mlflow.pyfunc.load_model(logged.model_info.model_uri)
    assert list(reloaded.predict(ROWS)["score"]) == pytest.approx([2.0, 4.0, 6.0])
    printed = predict_elsewhere(model_files, tmp_path / "elsewhere")
    assert "PREDICTED [2.0, 4.0, 6.0]" in printed

    # its requirements: merged into ours, pinned to this environment
    requirements = (model_files / "requirements.txt").read_text().splitlines()
    nested = model_files / "artifacts" / entry["artifact"] / entry["file"] / "requirements.txt"
    from importlib.metadata import version

    for line in nested.read_text().splitlines():
        distribution = line.split("==")[0].split(">")[0].split("<")[0].strip()
        if distribution and not line.startswith("-"):
            assert f"{distribution}=={version(distribution)}" in requirements, line
    assert not [line for line in requirements if line.lower().startswith("kedro-mlflow")]


def logged_facts_of(logged) -> list[tuple[str, str]]:
    from kedro_mlflow_magic.display.log_summary import logged_facts

    return logged_facts(logged)


def test_a_runs_uri_and_a_model_id_are_artifacts_with_their_run(
    make_project, experiment, tmp_path
) -> None:
    import mlflow

    with mlflow.start_run(run_name="training") as run:
        info = mlflow.sklearn.log_model(fitted(5.0), name="m")
    for where in (f"model_uri: runs:/{run.info.run_id}/m", f"model_uri: models:/{info.model_id}"):
        project = project_with_model(make_project, where)
        prepared = prepare_pipeline(project.pipelines["scoring"], project.catalog, "rows", ROWS)
        source = prepared.roles.artifacts["model"].mlflow_model
        assert source.run_id == run.info.run_id
        logged = prepared.log()
        reloaded = mlflow.pyfunc.load_model(logged.model_info.model_uri)
        assert list(reloaded.predict(ROWS)["score"]) == pytest.approx([5.0, 10.0, 15.0])
    assert source.model_id == info.model_id


def test_a_model_uri_that_names_nothing_is_a_problem_with_the_fix(make_project, experiment):
    project = project_with_model(make_project, "model_uri: models:/no-such-model@champion")
    roles = inspect_pipeline(project.pipelines["scoring"], project.catalog, "rows")
    (problem,) = roles.problems
    assert problem.name == "model" and problem.kind == "mlflow-model"
    assert "could not find the model models:/no-such-model@champion" in problem.reason
    assert "load_args.model_uri" in problem.fix
