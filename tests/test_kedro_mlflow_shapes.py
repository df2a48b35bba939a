"""Pipeline shapes kedro-mlflow's own tests give its pipeline model, not covered elsewhere
(test_hardening: namespaces with dots and spaces, dataset factories; test_runtime: list and
dict node interfaces, transcoding, nested and list parameters): an artifact shared by several
nodes, a namespaced modular pipeline with remapped inputs and parameters, a custom dataset type
from the project's package, and a persisted data input that is not shipped. kedro-mlflow's
MLflow-model-as-artifact shape needs its MlflowModel datasets, which are not installed here: it
is in test_kedro_mlflow_datasets.py (a venv with kedro-mlflow). Also: kedro-mlflow's copy-mode
shape (a node mutating an artifact in place, repeated calls on unseen inputs) and a pipeline
without output."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from model_files import manifest_of, model_folder
from projects import catalog_yaml
from sessions import LoadedProject, kedro_output, load_project

from kedro_mlflow_magic import inspect_pipeline, log_pipeline_model, prepare_pipeline
from kedro_mlflow_magic.errors import NoOutputError, OutputNotChosenError
from kedro_mlflow_magic.verify.parity import compare_results

DATASETS = '''
"""A dataset type of the project's own: a dict kept as JSON."""

import json
from pathlib import Path

from kedro.io import AbstractDataset


class JsonDictDataset(AbstractDataset):
    def __init__(self, filepath: str, indent: int = 0, metadata: dict | None = None):
        self._filepath = filepath
        self._indent = indent
        self.metadata = metadata

    def load(self) -> dict:
        return json.loads(Path(self._filepath).read_text())

    def save(self, data: dict) -> None:
        Path(self._filepath).write_text(json.dumps(data, indent=self._indent))

    def _exists(self) -> bool:
        return Path(self._filepath).exists()

    def _describe(self) -> dict:
        return {"filepath": self._filepath, "indent": self._indent}
'''

NODES = """
import pandas as pd


def encode(rows: pd.DataFrame, encoder: dict) -> pd.DataFrame:
    return rows.assign(code=rows["city"].map(encoder["cities"]))


def weigh(rows: pd.DataFrame, encoder: dict, weights: dict, bins: list) -> pd.DataFrame:
    score = rows["code"] * weights["w"] + encoder["offset"]
    return rows.assign(score=score, band=pd.cut(score, bins, labels=False))


def log_only(rows: pd.DataFrame) -> None:
    print(len(rows))


def index_categories(rows: pd.DataFrame, vocabulary: dict) -> list:
    # adds unseen categories to the vocabulary artifact in place (kedro-mlflow's copy-mode
    # shape): Kedro's runner loads the vocabulary afresh on every run
    return [[vocabulary.setdefault(category, len(vocabulary))] for category in rows["category"]]
"""

PIPELINES = """
from kedro.pipeline import Pipeline

base = pipeline([
    node(nodes.encode, ["rows", "encoder"], "encoded", name="encode"),
    node(nodes.weigh, ["encoded", "encoder", "params:weights", "params:bins"], "scored",
         name="weigh"),
])
scoring = pipeline(
    base,
    namespace="scoring",
    inputs={"rows": "customers", "encoder": "encoder"},
    parameters={"params:weights": "params:model.weights", "params:bins": "params:model.bins"},
)
return {
    "scoring": scoring,
    "silent": pipeline([node(nodes.log_only, "rows", None, name="log_only")]),
    "indexing": pipeline([node(nodes.index_categories, ["rows", "vocabulary"], "indexes",
                               name="index_categories")]),
}
"""

CATALOG = catalog_yaml(
    {
        "encoder": ("{package}.datasets.JsonDictDataset", "data/06_models/encoder.json"),
        "customers": ("pandas.CSVDataset", "data/01_raw/customers.csv"),
        "vocabulary": ("json.JSONDataset", "data/06_models/vocabulary.json"),
    },
    extra={"encoder": {"indent": 2}},
)

PARAMETERS = """
model:
  weights: {w: 2.0}
  bins: [-1, 3, 100]
"""

# the eighth row is beyond the input example (5 rows): it must appear in no file of the model
UNSHIPPED_CITY = "zanzibar-9f2c"
CUSTOMERS = "city\n" + "\n".join(["paris", "oslo", "lima"] * 2 + ["paris", UNSHIPPED_CITY]) + "\n"
ENCODER = {"cities": {"paris": 1, "oslo": 2, "lima": 3}, "offset": 0.5}


@pytest.fixture
def project(make_project) -> LoadedProject:
    root = make_project(nodes=NODES, pipelines=PIPELINES, parameters=PARAMETERS)
    (package,) = [path for path in (root / "src").iterdir() if path.name.startswith("project_")]
    (package / "datasets.py").write_text(DATASETS)
    (root / "conf" / "base" / "catalog.yml").write_text(CATALOG.format(package=package.name))
    for relative, text in {
        "data/06_models/encoder.json": json.dumps(ENCODER),
        "data/06_models/vocabulary.json": json.dumps({"a": 0, "b": 1}),
        "data/01_raw/customers.csv": CUSTOMERS,
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return load_project(root)


def test_shared_artifact_remapped_inputs_custom_dataset_and_persisted_data_input(
    project: LoadedProject,
) -> None:
    import mlflow

    pipeline = project.pipelines["scoring"]
    roles = inspect_pipeline(pipeline, project.catalog, "customers")  # the remapped input
    assert roles.data_input == "customers"
    assert list(roles.artifacts) == ["encoder"]  # one artifact, read by both nodes
    assert roles.parameters == {
        "params:model.weights": {"w": 2.0},
        "params:model.bins": [-1, 3, 100],
    }

    info = log_pipeline_model(pipeline, project.catalog, "customers", None)  # sample: its CSV
    folder = model_folder(info.model_uri)
    manifest = manifest_of(folder)
    (artifact,) = manifest["artifacts"]
    assert artifact["type"] == f"{project.package}.datasets.JsonDictDataset"
    assert artifact["config"] == {"indent": 2}
    assert f"{project.package}/datasets.py" in {
        path.relative_to(folder / "code").as_posix() for path in (folder / "code").rglob("*.py")
    }
    # the data input is not shipped: no copy of its file, and none of its rows past the example
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert not [path for path in files if path.name == "customers.csv"]
    assert not [path for path in files if UNSHIPPED_CITY.encode() in path.read_bytes()]

    model = mlflow.pyfunc.load_model(info.model_uri)
    frame = pd.DataFrame({"city": ["lima", "paris", "oslo"]})
    predicted = model.predict(frame)
    expected = kedro_output(project, "scoring", "customers", frame, output="scoring.scored")
    assert compare_results(predicted, expected), compare_results(predicted, expected).detail
    assert list(predicted["score"]) == [6.5, 2.5, 4.5]
    assert list(predicted["band"]) == [1, 0, 1]
    # the nested parameter of the remapped namespace is overridable by its dotted name
    assert list(model.predict(frame, params={"model.weights.w": 1.0})["score"]) == [3.5, 1.5, 2.5]
    assert list(model.predict(frame, params={"model.bins": [-1, 100]})["band"]) == [0, 0, 0]


def test_a_pipeline_without_output_says_so_and_names_its_nodes(project: LoadedProject) -> None:
    rows = pd.DataFrame({"x": [1]})
    for output in (None, "anything"):
        with pytest.raises(NoOutputError) as raised:
            prepare_pipeline(
                project.pipelines["silent"], project.catalog, "rows", rows, output=output
            )
        message = str(raised.value)
        assert message.startswith("the pipeline has no output (its nodes: 'log_only')")
        assert "a model must return something" in message
        assert "several outputs" not in message
        assert isinstance(raised.value, OutputNotChosenError)  # callers catching it still do


def test_copy_mode_a_node_mutating_an_artifact_in_place_repeated_calls(
    project: LoadedProject,
) -> None:
    """``kpm/copy-mode``: the node adds unseen categories to the vocabulary in place. The sample
    holds known categories only (the log-time check sees no change); later calls bring unseen
    ones, and each call answers as Kedro's runner does on that input, every time."""
    import mlflow

    pipeline = project.pipelines["indexing"]
    sample = pd.DataFrame({"category": ["a", "b", "a"]})
    info = log_pipeline_model(pipeline, project.catalog, "rows", sample)
    model = mlflow.pyfunc.load_model(info.model_uri)

    calls = [
        (["c"], [[2]]), (["d"], [[2]]), (["c", "d"], [[2], [3]]), (["a", "e"], [[0], [2]]),
        (["d"], [[2]]),  # not [[3]]: no drift from the calls before
    ]  # fmt: skip
    for categories, answer in calls:
        frame = pd.DataFrame({"category": categories})
        assert kedro_output(project, pipeline, "rows", frame) == answer
        assert model.predict(frame) == answer, categories
