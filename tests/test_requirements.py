"""The model's requirements (SPEC 3): pinned versions of what loading and predicting import,
found by reading the node modules, never this package."""

from __future__ import annotations

import gzip
import pickle
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import LoadedProject, load_project
from kedro.io import DataCatalog
from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.pickle import PickleDataset
from kedro_datasets.yaml import YAMLDataset
from model_files import model_folder
from sklearn.linear_model import LogisticRegression

from kedro_mlflow_magic import log_pipeline_model
from kedro_mlflow_magic.packaging import artifact_value_modules
from kedro_mlflow_magic.requirements import pinned_requirements, staged_value_module
from kedro_mlflow_magic.roles import Artifact
from kedro_mlflow_magic.staging import stage_artifact

PINNED = ["kedro", "kedro-datasets", "mlflow", "pandas", "numpy", "scikit-learn"]


def test_the_demo_model_pins_what_it_imports(demo: LoadedProject, demo_sample) -> None:
    info = log_pipeline_model(
        demo.pipelines["inference"], demo.catalog, "customers_to_score", demo_sample
    )
    lines = (model_folder(info.model_uri) / "requirements.txt").read_text().split()
    requirements = dict(line.split("==", 1) for line in lines if "==" in line)
    for distribution in PINNED:
        assert requirements.get(distribution) == version(distribution), (distribution, lines)
    assert not [line for line in lines if "kedro_mlflow_magic" in line.replace("-", "_")]
    assert demo.package not in "\n".join(lines)  # shipped as code, not installed from an index


HELPERS = """\
import scipy.special


def squash(values):
    return scipy.special.expit(values)
"""

NODES = """\
from .helpers import squash


def score(frame):
    return frame.assign(score=squash(frame["value"]))
"""


def test_imports_of_the_projects_own_modules_are_followed(make_project) -> None:
    root = make_project(
        nodes=NODES, pipelines='return {"flow": pipeline([node(nodes.score, "frame", "scored")])}'
    )
    (root / "src" / root.name / "helpers.py").write_text(HELPERS)  # the package is named as root
    project = load_project(root)
    requirements = pinned_requirements(
        node_modules={f"{project.package}.nodes"}, shipped_packages={project.package}
    )
    assert f"scipy=={version('scipy')}" in requirements
    assert f"kedro=={version('kedro')}" in requirements
    assert not any(project.package in line for line in requirements)
    assert not any("scikit-learn" in line for line in requirements)


def test_distributions_are_found_by_name_or_alias_before_scanning_every_package() -> None:
    """Scanning every installed package's files costs most of a second; the common cases skip it."""
    from kedro_mlflow_magic.requirements import distribution_of, module_distributions

    module_distributions.cache_clear()
    assert distribution_of("sklearn") == "scikit-learn"
    assert distribution_of("kedro_datasets") == "kedro-datasets"
    assert distribution_of("yaml") == "PyYAML"
    assert module_distributions.cache_info().misses == 0
    assert distribution_of("_pytest") == "pytest"  # only the scan knows this one
    assert module_distributions.cache_info().misses == 1


class Counter:
    """An object of a class of its own (its module: this test file)."""


VALUES = [
    LogisticRegression(),
    pd.DataFrame({"a": [1, 2]}),
    pd.Series([1.0]),
    np.arange(3),
    {"threshold": 0.5, "model": LogisticRegression()},
    [Counter()],
    "text",
    3,
    Counter(),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda value: type(value).__name__)
def test_a_pickled_artifacts_value_type_is_read_without_unpickling(tmp_path: Path, value) -> None:
    """The package the requirements take from a pickled artifact is its value's type's, as
    loading it would tell (a container is builtins: what it holds is not looked into)."""
    path = tmp_path / "value.pkl"
    PickleDataset(filepath=str(path)).save(value)
    module = staged_value_module(PickleDataset, path)
    assert module is not None and module.split(".")[0] == type(value).__module__.split(".")[0]


def test_a_dataset_that_declares_its_type_is_not_read_and_others_say_nothing(
    tmp_path: Path,
) -> None:
    # pandas 3 says DataFrame's module is "pandas", pandas 2 "pandas.core.frame": the package counts
    assert staged_value_module(CSVDataset, tmp_path / "absent.csv").split(".")[0] == "pandas"
    assert staged_value_module(YAMLDataset, tmp_path / "absent.yml") == "builtins"
    text = tmp_path / "settings.json"
    text.write_text('{"a": 1}')
    assert staged_value_module(JSONDataset, text) is None  # Any, and no pickle: only a load tells
    compressed = tmp_path / "model.pkl.gz"
    compressed.write_bytes(gzip.compress(pickle.dumps(LogisticRegression())))
    assert staged_value_module(PickleDataset, compressed) is None


def test_the_requirements_of_artifacts_come_from_the_staged_copy(tmp_path: Path) -> None:
    """A pickled model that no node module imports still pins its library, read from the staged
    file alone: the catalog's file is gone by then, so nothing loaded it a second time."""
    source = tmp_path / "classifier.pkl"
    catalog = DataCatalog({"classifier": PickleDataset(filepath=str(source))})
    catalog.save("classifier", LogisticRegression())
    staging = tmp_path / "staging"
    staging.mkdir()
    artifact = Artifact(
        "classifier", "pickle.PickleDataset", str(source), {"filepath": str(source)}
    )
    staged = [stage_artifact(artifact, catalog, staging, set())]
    source.unlink()
    modules = artifact_value_modules(catalog, staged, staging)
    assert modules == [type(LogisticRegression()).__module__]
    requirements = pinned_requirements([], set(), ["pickle.PickleDataset"], modules)
    assert f"scikit-learn=={version('scikit-learn')}" in requirements
