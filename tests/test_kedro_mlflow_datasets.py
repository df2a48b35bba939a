"""kedro-mlflow's own datasets as artifacts
(docs/explanation/behaviour.md#mlflow-models-as-artifacts), with kedro-mlflow 2.x installed and its
hooks active (the venv of ``kedro_mlflow_env``): an ``MlflowArtifactDataset`` (a local pickle, and a
JSON file read from a run), ``MlflowModelLocalFileSystemDataset``, ``MlflowModelTrackingDataset`` (a
model id; and none, after ``kedro run`` saved one through it) and ``MlflowModelRegistryDataset`` (an
alias), in a real sqlite store. The logged model then predicts in the main environment, which has no
kedro-mlflow, from a copy of its folder, with a tracking URI that holds nothing, after the alias
moved to another version."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from model_files import manifest_of
from projects import write_project
from sessions import tool_environment

pytestmark = pytest.mark.slow

NODES = """
import pandas as pd
from sklearn.linear_model import LinearRegression


def score(rows, encoder, offsets, fs_model, tracked, registered):
    features = rows[["x"]]
    return pd.DataFrame({
        "code": rows["city"].map(encoder),
        "fs": fs_model.predict(features) + offsets["offset"],
        "tracked": tracked.predict(features),
        "registered": registered.predict(features),
    })


def train(rows):
    return LinearRegression().fit(rows[["x"]], 11 * rows["x"])


def score_fresh(rows, fresh_model):
    return pd.DataFrame({"fresh": fresh_model.predict(rows[["x"]])})
"""

PIPELINES = """
return {
    "scoring": pipeline([node(nodes.score, ["rows", "encoder", "offsets", "fs_model", "tracked",
                                            "registered"], "scores", name="score")]),
    "training": pipeline([node(nodes.train, "rows_sample", "fresh_model", name="train")]),
    "fresh": pipeline([node(nodes.score_fresh, ["rows", "fresh_model"], "fresh_scores",
                            name="score_fresh")]),
}
"""

CATALOG = """
encoder:
  type: kedro_mlflow.io.artifacts.MlflowArtifactDataset
  dataset:
    type: pickle.PickleDataset
    filepath: data/06_models/encoder.pkl
offsets:
  type: kedro_mlflow.io.artifacts.MlflowArtifactDataset
  dataset:
    type: json.JSONDataset
    filepath: data/08_reporting/offsets.json
  run_id: {run_id}
  artifact_path: reporting
fs_model:
  type: kedro_mlflow.io.models.MlflowModelLocalFileSystemDataset
  flavor: mlflow.sklearn
  filepath: data/06_models/fs_model
tracked:
  type: kedro_mlflow.io.models.MlflowModelTrackingDataset
  flavor: mlflow.sklearn
  load_args:
    model_uri: models:/{model_id}
registered:
  type: kedro_mlflow.io.models.MlflowModelRegistryDataset
  model_name: prices
  alias: champion
  flavor: mlflow.sklearn
fresh_model:
  type: kedro_mlflow.io.models.MlflowModelTrackingDataset
  flavor: mlflow.sklearn
  save_args:
    name: fresh
rows_sample:
  type: pandas.CSVDataset
  filepath: data/01_raw/rows.csv
"""

SETTINGS = """
from kedro_mlflow_magic.hooks import LogModelHook

HOOKS = (LogModelHook(after="training", pipeline="fresh", data_input="rows",
                      sample="rows_sample", name="fresh_scoring"),)
"""

ROWS = pd.DataFrame({"city": ["paris", "oslo", "paris"], "x": [1.0, 2.0, 3.0]})

LOG = """
import json, sys
import pandas as pd
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro_mlflow_magic import inspect_pipeline, prepare_pipeline

bootstrap_project(sys.argv[1])
with KedroSession.create(project_path=sys.argv[1]) as session:
    catalog = session.load_context().catalog
    rows = pd.read_csv(sys.argv[1] + "/data/01_raw/rows.csv")
    prepared = prepare_pipeline(pipelines["scoring"], catalog, "rows", rows)
    logged = prepared.log(name="scoring")
    unsaved = inspect_pipeline(pipelines["fresh"], catalog, "rows")  # nothing saved through it
    print("RESULT", json.dumps({"roles": str(prepared.roles), "summary": str(logged),
                                "model_uri": logged.model_info.model_uri,
                                "unsaved": [str(problem) for problem in unsaved.problems]}))
"""

PREDICT = """
import json
import sys

sys.modules["kedro_mlflow"] = None  # kedro-mlflow is not installed here; make sure of it
sys.modules["kedro_mlflow_magic"] = None
import mlflow
import pandas as pd

frame = pd.DataFrame({"city": ["paris", "oslo", "paris"], "x": [1.0, 2.0, 3.0]})
predicted = mlflow.pyfunc.load_model(sys.argv[1]).predict(frame)
print("PREDICTED", json.dumps(predicted.round(6).to_dict(orient="list")))
"""


def fitted(slope: float):
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"x": np.arange(10, dtype=float)})
    return LinearRegression().fit(frame, slope * frame["x"])


def environment(store: str) -> dict[str, str]:
    return tool_environment(
        store, drop=("PYTHONPATH", "MLFLOW_EXPERIMENT_", "PYTEST"), our_tools=False
    )


def run(command: list[str], cwd: Path, store: str) -> str:
    finished = subprocess.run(
        command, cwd=cwd, env=environment(store), capture_output=True, text=True, timeout=600
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output[-4000:]
    return output


@pytest.fixture(scope="module")
def project(kedro_mlflow_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The store seeded from the main environment (two registered versions of ``prices``, the
    alias on version 1, a logged model, a run holding the offsets file), the project written
    around it, and our model logged by kedro-mlflow's venv with its hooks active."""
    import mlflow

    folder = tmp_path_factory.mktemp("kedro-mlflow-datasets")
    store = f"sqlite:///{folder / 'mlruns.db'}"
    client = mlflow.MlflowClient(tracking_uri=store)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        mlflow.set_tracking_uri(store)
        experiment = client.create_experiment("seed", artifact_location=(folder / "seed").as_uri())
        with mlflow.start_run(experiment_id=experiment) as seeding:
            first = mlflow.sklearn.log_model(fitted(2.0), name="p", registered_model_name="prices")
            mlflow.sklearn.log_model(fitted(3.0), name="p", registered_model_name="prices")
            tracked = mlflow.sklearn.log_model(fitted(5.0), name="tracked")
            mlflow.log_dict({"offset": 0.5}, "reporting/offsets.json")
        client.set_registered_model_alias("prices", "champion", "1")
        mlflow.set_tracking_uri(None)
    root = write_project(
        folder / "project", NODES, PIPELINES,
        catalog=CATALOG.format(run_id=seeding.info.run_id, model_id=tracked.model_id),
        files={
            "conf/local/mlflow.yml": f"server:\n  mlflow_tracking_uri: {store}\n",
            "data/01_raw/rows.csv": ROWS.to_csv(index=False),
        },
        pickles={"data/06_models/encoder.pkl": {"paris": 1, "oslo": 2}},
    )  # fmt: skip
    (root / "data" / "08_reporting").mkdir(parents=True)  # the offsets file is only in the run
    mlflow.sklearn.save_model(fitted(7.0), str(root / "data" / "06_models" / "fs_model"))
    (root / "log.py").write_text(LOG)
    output = run([str(kedro_mlflow_python), "log.py", str(root)], root, store)
    result = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])
    return {
        "root": root, "store": store, "folder": folder, "result": result,
        "first": first, "tracked": tracked, "seeding": seeding.info.run_id,
    }  # fmt: skip


def downloaded(model_uri: str, store: str, destination: Path) -> Path:
    import mlflow

    mlflow.set_tracking_uri(store)
    try:
        return Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(destination)))
    finally:
        mlflow.set_tracking_uri(None)


def predict_elsewhere(folder: Path, workspace: Path) -> dict:
    """Predict from a copy of the model folder in the main environment (no kedro-mlflow), in
    a fresh process whose tracking URI holds nothing."""
    workspace.mkdir()
    copy = workspace / "copied-model"
    shutil.copytree(folder, copy)
    (workspace / "predict.py").write_text(PREDICT)
    output = run(
        [sys.executable, "predict.py", str(copy)], workspace, f"sqlite:///{workspace}/empty.db"
    )
    return json.loads(output.split("PREDICTED ", 1)[1].splitlines()[0])


def test_kedro_mlflow_datasets_are_artifacts_with_their_lineage(project) -> None:
    roles, summary = project["result"]["roles"], project["result"]["summary"]
    assert "problem" not in roles, roles
    assert "encoder     artifact    kedro_datasets.pickle.pickle_dataset.PickleDataset (" in roles
    assert "kedro_datasets.json.json_dataset.JSONDataset (" in roles
    assert f"data/08_reporting/offsets.json, from run {project['seeding']})" in roles
    first, tracked = project["first"], project["tracked"]
    assert f"mlflow.sklearn model models:/prices@champion (prices version 1, model id " \
        f"{first.model_id})" in roles  # fmt: skip
    assert f"mlflow.sklearn model models:/{tracked.model_id} (model id {tracked.model_id})" in roles
    assert f"mlflow.sklearn model {project['root'].as_posix()}/data/06_models/fs_model" in roles
    assert "artifact registered" in summary and "prices version 1" in summary
    assert "parity check" in summary
    (unsaved,) = project["result"]["unsaved"]
    assert unsaved.startswith("fresh_model: is an MLflow model (MlflowModelTrackingDataset) that")
    assert "names no model: it has no load_args.model_uri and no model was saved" in unsaved
    assert "Fix: point it at a logged or registered model" in unsaved


def test_the_model_needs_no_kedro_mlflow_and_keeps_its_pinned_version(project) -> None:
    import mlflow

    folder = downloaded(project["result"]["model_uri"], project["store"], project["folder"] / "m")
    manifest = manifest_of(folder)
    entries = {entry["dataset"]: entry for entry in manifest["artifacts"]}
    assert entries["encoder"]["type"] == "kedro_datasets.pickle.pickle_dataset.PickleDataset"
    assert entries["offsets"]["type"] == "kedro_datasets.json.json_dataset.JSONDataset"
    assert json.loads((folder / "artifacts" / "offsets" / "offsets.json").read_text()) == {
        "offset": 0.5
    }  # fetched from its run: the project has no such file
    assert entries["registered"]["source"]["pinned_uri"] == "models:/prices/1"
    assert entries["registered"]["source"]["model_id"] == project["first"].model_id
    assert entries["tracked"]["source"]["model_id"] == project["tracked"].model_id
    for name in ("fs_model", "tracked", "registered"):
        assert entries[name]["flavor"] == "mlflow.sklearn"
    requirements = (folder / "requirements.txt").read_text().lower()
    assert "kedro-mlflow" not in requirements and "kedro_mlflow" not in requirements
    assert "scikit-learn==" in requirements

    # the alias moves to version 2 after logging: the model still predicts with version 1
    mlflow.MlflowClient(tracking_uri=project["store"]).set_registered_model_alias(
        "prices", "champion", "2"
    )
    predicted = predict_elsewhere(folder, project["folder"] / "elsewhere")
    assert predicted["registered"] == pytest.approx([2.0, 4.0, 6.0])
    assert predicted["tracked"] == pytest.approx([5.0, 10.0, 15.0])
    assert predicted["fs"] == pytest.approx([7.5, 14.5, 21.5])
    assert predicted["code"] == [1, 2, 1]


def test_a_tracking_dataset_without_model_uri_is_the_model_kedro_run_just_saved(
    project, kedro_mlflow_python: Path
) -> None:
    import mlflow

    root, store = project["root"], project["store"]
    (package,) = [path for path in (root / "src").iterdir() if path.name.startswith("project_")]
    settings = package / "settings.py"
    settings.write_text(settings.read_text() + textwrap.dedent(SETTINGS))
    output = run(
        [str(kedro_mlflow_python), "-m", "kedro", "run", "--pipelines", "training"], root, store
    )
    assert "Logged pipeline 'fresh' after the run of 'training'" in output, output[-3000:]
    client = mlflow.MlflowClient(tracking_uri=store)
    models = client.search_logged_models(
        [experiment.experiment_id for experiment in client.search_experiments()]
    )
    fresh = [model for model in models if model.name == "fresh"]
    ours = [model for model in models if model.name == "fresh_scoring"]
    assert len(fresh) == 1 and len(ours) == 1, [model.name for model in models]
    folder = downloaded(f"models:/{ours[0].model_id}", store, project["folder"] / "fresh")
    (entry,) = manifest_of(folder)["artifacts"]
    assert entry["source"]["model_id"] == fresh[0].model_id
    assert entry["source"]["uri"] == f"models:/{fresh[0].model_id}"
    predicted = predict_fresh(folder, project["folder"] / "fresh-elsewhere")
    assert predicted == pytest.approx([11.0, 22.0, 33.0])


PREDICT_FRESH = PREDICT.replace(
    'print("PREDICTED", json.dumps(predicted.round(6).to_dict(orient="list")))',
    'print("PREDICTED", predicted["fresh"].round(6).to_json(orient="values"))',
)


def predict_fresh(folder: Path, workspace: Path) -> list:
    workspace.mkdir()
    (workspace / "predict.py").write_text(PREDICT_FRESH)
    output = run(
        [sys.executable, "predict.py", str(folder)], workspace, f"sqlite:///{workspace}/empty.db"
    )
    return json.loads(output.split("PREDICTED ", 1)[1].splitlines()[0])
