"""Staging what a model ships (``staging``), on a real Kedro project: each artifact's files
linked (or copied) under a folder of its own with the settings that read them, a versioned
dataset's loaded version, a frozen input's value, and a clean copy of the project's source."""

from __future__ import annotations

import os
import pickle
from pathlib import Path, PurePosixPath

import pandas as pd
import pytest
from sessions import LoadedProject, load_project

from kedro_mlflow_magic.build.shipped_code import (
    CODE_FOLDER,
    resolve_includes,
    shipped_packages,
    source_files,
    stage_code,
)
from kedro_mlflow_magic.build.staging import (
    FROZEN_FILE,
    artifact_key,
    local_settings,
    stage_artifact,
)
from kedro_mlflow_magic.errors import ArtifactCopyError
from kedro_mlflow_magic.inspect.roles import Artifact, inspect_pipeline

VERSION = "2024-01-02T03.04.05.678Z"

NODES = """\
import pandas as pd


def score(frame, model, weights, regions, lookup):
    merged = frame.merge(lookup, on="key")
    merged["score"] = merged["bonus"] * model["scale"] * weights["w"] + len(regions)
    return merged
"""

PIPELINES = """\
flow = pipeline([node(nodes.score, ["frame", "model", "weights", "regions", "lookup"], "out")])
return {"flow": flow, "__default__": flow}
"""

CATALOG = """\
model: {type: pickle.PickleDataset, filepath: data/06_models/model.pkl}
weights: {type: pickle.PickleDataset, filepath: data/06_models/weights.pkl, versioned: true}
regions:
  type: partitions.PartitionedDataset
  path: data/regions
  dataset: {type: pandas.CSVDataset, load_args: {sep: ";"}}
  filename_suffix: .csv
lookup: {type: pandas.CSVDataset, filepath: data/lookup.csv}
"""


@pytest.fixture
def project(make_project) -> LoadedProject:
    root = make_project(
        NODES, PIPELINES, CATALOG,
        files={
            "data/lookup.csv": "key,bonus\n1,0.5\n2,1.5\n",
            "data/regions/north.csv": "key;region\n1;north\n",
            "data/regions/south.csv": "key;region\n2;south\n",
        },
        pickles={
            "data/06_models/model.pkl": {"scale": 2.0},
            f"data/06_models/weights.pkl/{VERSION}/weights.pkl": {"w": 3.0},
        },
    )  # fmt: skip
    return load_project(root)


@pytest.fixture
def artifacts(project: LoadedProject) -> dict[str, Artifact]:
    roles = inspect_pipeline(project.pipelines["flow"], project.catalog, "frame", freeze=["lookup"])
    assert not roles.problems, roles.problems
    return roles.artifacts


def test_artifact_keys_are_safe_folder_names_and_unique() -> None:
    taken: set[str] = set()
    assert artifact_key("model", taken) == "model"
    assert artifact_key("model", taken) == "model_2"
    assert artifact_key("params:../../etc", taken) == "params_etc"
    assert artifact_key("...", taken) == "artifact"
    assert taken == {"model", "model_2", "params_etc", "artifact"}


def test_a_file_artifact_is_linked_under_its_key(
    project: LoadedProject, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    entry = stage_artifact(artifacts["model"], project.catalog, tmp_path, set())
    assert entry["artifact"] == "model" and entry["file"] == "model.pkl"
    assert entry["path_key"] == "filepath" and entry["frozen"] is False
    staged = tmp_path / "model" / "model.pkl"
    source = project.root / "data" / "06_models" / "model.pkl"
    assert os.path.samefile(staged, source), "a hard link on the same filesystem, not a copy"
    assert pickle.loads(staged.read_bytes()) == {"scale": 2.0}


def test_a_versioned_artifact_ships_the_version_the_session_loads(
    project: LoadedProject, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    entry = stage_artifact(artifacts["weights"], project.catalog, tmp_path, set())
    assert "versioned" not in entry["config"], "the model reads one file, not a version folder"
    staged = tmp_path / entry["artifact"] / entry["file"]
    assert pickle.loads(staged.read_bytes()) == {"w": 3.0}


def test_a_folder_artifact_ships_its_files_and_its_load_settings(
    project: LoadedProject, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    entry = stage_artifact(artifacts["regions"], project.catalog, tmp_path, set())
    staged = tmp_path / entry["artifact"] / entry["file"]
    assert sorted(path.name for path in staged.iterdir()) == ["north.csv", "south.csv"]
    assert entry["path_key"] == "path"
    assert entry["config"]["dataset"]["load_args"] == {"sep": ";"}


def test_a_frozen_input_ships_its_current_value(
    project: LoadedProject, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    entry = stage_artifact(artifacts["lookup"], project.catalog, tmp_path, set())
    assert entry["frozen"] is True and entry["file"] == FROZEN_FILE and entry["config"] == {}
    value = pickle.loads((tmp_path / entry["artifact"] / FROZEN_FILE).read_bytes())
    pd.testing.assert_frame_equal(value, project.catalog.load("lookup"))


def test_a_missing_file_is_an_error_naming_the_dataset(
    project: LoadedProject, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    (project.root / "data" / "06_models" / "model.pkl").unlink()
    with pytest.raises(ArtifactCopyError, match=r"could not copy the files of artifact 'model'"):
        stage_artifact(artifacts["model"], project.catalog, tmp_path, set())


def test_local_settings_drop_credentials_and_remote_filesystem_arguments() -> None:
    config = {
        "credentials": "s3",
        "fs_args": {
            "client_kwargs": {"endpoint_url": "http://x"},
            "open_args_load": {"mode": "rb"},
        },
        "load_args": {"sep": ";"},
        "dataset": {"type": "pandas.CSVDataset", "credentials": "inner", "fs_args": {"anon": True}},
        "dataset_credentials": "other",
    }
    assert local_settings(config) == {
        "fs_args": {"open_args_load": {"mode": "rb"}},
        "load_args": {"sep": ";"},
        "dataset": {"type": "pandas.CSVDataset"},
    }


def test_only_the_project_package_ships_and_only_its_code(
    project: LoadedProject, tmp_path: Path
) -> None:
    packages = shipped_packages(project.pipelines["flow"])
    assert list(packages) == [project.package], "kedro, pandas... come from site-packages"
    folder = packages[project.package]
    (folder / "__pycache__").mkdir(exist_ok=True)
    (folder / "__pycache__" / "nodes.cpython-311.pyc").write_bytes(b"\0")
    (folder / "data").mkdir()
    (folder / "data" / "lookup.json").write_text("{}")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "secret.py").write_text("TOKEN = 'never ships'\n")
    assert (folder / ".env").is_file()  # planted by every test project, with a notebook
    assert [str(path) for path in source_files(folder)] == [
        "__init__.py", "nodes.py", "pipeline_registry.py", "settings.py",
    ]  # fmt: skip

    included = resolve_includes(packages, ["data"])
    assert [entry.name for entry in included] == [f"{project.package}/data/lookup.json"]
    assert included[0].relative == PurePosixPath("data/lookup.json")
    code_paths = stage_code(packages, included, tmp_path)
    assert code_paths == [tmp_path / CODE_FOLDER / project.package]
    shipped = sorted(
        str(path.relative_to(code_paths[0])) for path in code_paths[0].rglob("*") if path.is_file()
    )
    assert shipped == [
        "__init__.py", "data/lookup.json", "nodes.py", "pipeline_registry.py", "settings.py",
    ]  # fmt: skip
