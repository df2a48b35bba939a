"""The model's requirements (docs/explanation/behaviour.md#the-logged-model): pinned versions of
what loading and predicting import, found by reading the node modules, never this package."""

from __future__ import annotations

import gzip
import pickle
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.pickle import PickleDataset
from kedro_datasets.yaml import YAMLDataset
from model_files import model_folder
from sessions import LoadedProject, load_project
from sklearn.linear_model import LogisticRegression

from kedro_mlflow_magic import log_pipeline_model
from kedro_mlflow_magic.build.packaging import artifact_value_modules
from kedro_mlflow_magic.build.requirements import pinned_requirements, staged_value_module
from kedro_mlflow_magic.build.staging import stage_artifact
from kedro_mlflow_magic.inspect.roles import Artifact

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
    from kedro_mlflow_magic.build.requirements import distribution_of, module_distributions

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


# --- imports the scan reads beyond import statements (issue 23) ------------------------------

IMPORTS_BY_NAME = """\
import importlib
from importlib import import_module


def plugins(name):
    importlib.import_module("sortedcontainers")
    import_module("psutil._common")
    __import__("xmltodict")
    importlib.import_module(name)  # computed at run time: cannot be read
    importlib.import_module(".helpers", __package__)  # relative: the project's own
    return importlib.import_module("json")  # the standard library
"""


def test_literal_import_module_and___import___calls_are_read_as_imports() -> None:
    from kedro_mlflow_magic.build.requirements import imports_of

    found = imports_of(IMPORTS_BY_NAME, "project.nodes", is_package=False)
    assert {"sortedcontainers", "psutil._common", "xmltodict", "json"} <= found
    assert not [name for name in found if name.startswith(".") or name == "name"]


def test_a_node_importing_a_package_by_a_literal_name_pins_it(make_project) -> None:
    root = make_project(
        nodes=IMPORTS_BY_NAME,
        pipelines='return {"flow": pipeline([node(nodes.plugins, "frame", "out")])}',
    )
    project = load_project(root)
    requirements = pinned_requirements({f"{project.package}.nodes"}, {project.package})
    for distribution in ("sortedcontainers", "psutil", "xmltodict"):
        assert f"{distribution}=={version(distribution)}" in requirements, requirements


SORTED_DATASET = """\
from kedro.io import AbstractDataset
from sortedcontainers import SortedList


class SortedListDataset(AbstractDataset):
    def __init__(self, filepath):
        self._filepath = filepath

    def load(self):
        with open(self._filepath) as stream:
            return SortedList(float(line) for line in stream if line.strip())

    def save(self, data):
        with open(self._filepath, "w") as stream:
            stream.write("\\n".join(map(str, data)))

    def _describe(self):
        return {"filepath": self._filepath}
"""


def test_the_packages_an_artifacts_dataset_type_imports_are_pinned(make_project) -> None:
    """A project's own dataset type ships as code, but what it imports must be installed: the
    scan reads the type's module as it reads the node modules'."""
    root = make_project(
        nodes="def passthrough(frame):\n    return frame\n",
        pipelines='return {"flow": pipeline([node(nodes.passthrough, "frame", "out")])}',
    )
    (root / "src" / root.name / "datasets.py").write_text(SORTED_DATASET)
    project = load_project(root)
    own_type = f"{project.package}.datasets.SortedListDataset"
    requirements = pinned_requirements([], {project.package}, artifact_types=[own_type])
    assert f"sortedcontainers=={version('sortedcontainers')}" in requirements, requirements
    assert not any(project.package in line for line in requirements)
    # a kedro-datasets type in the catalog's short form: its module imports fsspec
    assert f"fsspec=={version('fsspec')}" in pinned_requirements([], set(), ["pandas.CSVDataset"])


# --- requirements added by hand (issue 23) ---------------------------------------------------


def test_a_bare_name_is_pinned_to_the_installed_version_and_a_specifier_is_kept() -> None:
    from kedro_mlflow_magic.build.requirements import requirement_added

    assert requirement_added("psutil") == f"psutil=={version('psutil')}"
    assert requirement_added(" sortedcontainers ") == (
        f"sortedcontainers=={version('sortedcontainers')}"
    )
    assert requirement_added("s3fs[boto3]") == f"s3fs[boto3]=={version('s3fs')}"
    assert requirement_added("scipy>=1.0") == "scipy>=1.0"
    assert requirement_added("scipy==1.0; python_version < '3.12'") == (
        'scipy==1.0; python_version < "3.12"'
    )
    assert requirement_added(requirement_added("psutil")) == f"psutil=={version('psutil')}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a requirement!", "requirement 'not a requirement!' is not a requirement"),
        ("no-such-package-kmm", "'no-such-package-kmm' is not installed here, so it cannot be "
         "pinned to the installed version; install it, or give a version "
         "(no-such-package-kmm==X.Y)"),
    ],
)  # fmt: skip
def test_a_requirement_that_cannot_be_used_is_one_line_with_the_fix(text, message) -> None:
    from kedro_mlflow_magic.build.requirements import requirement_added
    from kedro_mlflow_magic.errors import RequirementError

    with pytest.raises(RequirementError) as raised:
        requirement_added(text)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_an_added_requirement_replaces_the_scanned_line_of_its_distribution() -> None:
    from kedro_mlflow_magic.build.requirements import with_added_requirements

    scanned = ["mlflow==3.0.0", "Scikit_Learn==1.5.0", "pandas==2.2.0"]
    merged = with_added_requirements(scanned, ["scikit-learn>=1.3", "psutil==5.9.0"])
    assert merged == ["mlflow==3.0.0", "pandas==2.2.0", "psutil==5.9.0", "scikit-learn>=1.3"]


CALL_TIME_NODES = """\
import importlib


def rank(frame):
    # a plugin named at call time: no scan can read this name
    sorted_list = importlib.import_module("sorted" + "containers").SortedList
    ranks = sorted_list(frame["value"])
    return frame.assign(rank=[ranks.index(value) for value in frame["value"]])
"""


def test_extra_requirements_reach_the_requirements_file_and_the_manifest(make_project) -> None:
    from model_files import manifest_of

    root = make_project(
        nodes=CALL_TIME_NODES,
        pipelines='return {"flow": pipeline([node(nodes.rank, "frame", "ranked")])}',
    )
    project = load_project(root)
    sample = pd.DataFrame({"value": [3.0, 1.0, 2.0]})
    info = log_pipeline_model(
        project.pipelines["flow"], project.catalog, "frame", sample,
        extra_requirements=["sortedcontainers", "scipy>=1.0"],
    )  # fmt: skip
    folder = model_folder(info.model_uri)
    lines = (folder / "requirements.txt").read_text().split()
    pinned = f"sortedcontainers=={version('sortedcontainers')}"
    assert pinned in lines and "scipy>=1.0" in lines, lines
    assert manifest_of(folder)["added_requirements"] == [pinned, "scipy>=1.0"]
    plain = log_pipeline_model(project.pipelines["flow"], project.catalog, "frame", sample)
    plain_lines = (model_folder(plain.model_uri) / "requirements.txt").read_text().split()
    assert not [line for line in plain_lines if line.startswith(("sortedcontainers", "scipy"))]
    assert manifest_of(model_folder(plain.model_uri))["added_requirements"] == []
