"""The model's requirements (SPEC 3): pinned versions of what loading and predicting import,
found by reading the node modules, never this package."""

from __future__ import annotations

from importlib.metadata import version

from conftest import LoadedProject, load_project
from model_files import model_folder

from kedro_mlflow_magic import log_pipeline_model
from kedro_mlflow_magic.requirements import pinned_requirements

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
