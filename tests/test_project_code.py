"""The project's own code travels wherever it sits (docs/guides/what-ships.md): packages and
modules beside the project package in ``src/`` ship with the model because the nodes import
them, their libraries are requirements, the project's own distribution never is; a fresh
process without the project proves the shipped code stands on its own, and its failure names
the include that fixes it. Any dataset the pipeline produces can be the output; the nodes left
out are named."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
import requests
from model_files import manifest_of, model_folder
from servers import clean_environment, running_server
from sessions import LoadedProject, load_project

from kedro_mlflow_magic import check_environment, inspect_pipeline, log_pipeline_model
from kedro_mlflow_magic.build import project_code
from kedro_mlflow_magic.errors import EnvironmentCheckError, OutputNotChosenError, ShippedCodeError
from kedro_mlflow_magic.verify.code_check import PROBE, site_packages

# The nodes import a package and a module beside the project package (``common`` imports the
# module ``units``), and ``datamanager``, which imports a library no base requirement brings
# (sortedcontainers, installed here by the dev extra's hypothesis). ``plugins`` is imported by
# a name computed at import time (no scan can read it); ``extras`` at call time.
NODES = """\
import importlib

import datamanager
from common.scaling import scale


def predict(rows, factor):
    return rows.assign(prediction=scale(rows["value"], factor) + datamanager.offset())


def metrics(predictions):
    return {"mean": float(predictions["prediction"].mean())}


def save(predictions):
    predictions.to_csv(datamanager.OUTBOX)  # writes elsewhere: the model never runs it


def late(rows):
    return rows.assign(late=importlib.import_module("ext" + "ras").VALUE)
"""
PLUGGED = """\
import importlib

PLUGINS = importlib.import_module("plug" + "ins")


def plugged(rows):
    return rows.assign(plugged=PLUGINS.VALUE)
"""
# A class whose bases no stand-in can take (a stood-in library's class and an ABC): the
# check imports it with the real library instead
RANKED = """\
from collections.abc import Sized

from sortedcontainers import SortedList


class Ranked(SortedList, Sized):
    pass


def rank(rows):
    return rows.assign(rank=[Ranked(rows["value"]).index(value) for value in rows["value"]])
"""
PIPELINES = """\
from . import plugged, ranked
return {
    "inference": pipeline([
        node(nodes.predict, ["rows", "params:factor"], "predictions", name="predict"),
        node(nodes.metrics, "predictions", "metrics", name="metrics"),
        node(nodes.save, "predictions", None, name="save"),
    ]),
    "plugged": pipeline([node(plugged.plugged, "rows", "out", name="plugged")]),
    "late": pipeline([node(nodes.late, "rows", "out", name="late")]),
    "ranked": pipeline([node(ranked.rank, "rows", "out", name="rank")]),
}
"""
BESIDE = {
    "src/common/__init__.py": "",
    "src/common/scaling.py": "from units import per_unit\n\n\ndef scale(values, factor):\n"
    "    return values * factor * per_unit()\n",
    "src/units.py": "def per_unit():\n    return 1.0\n",
    "src/datamanager/__init__.py": "from sortedcontainers import SortedList\n\n"
    "OUTBOX = '/nonexistent/outbox.csv'\n\n\ndef offset():\n"
    "    return float(SortedList([3, 1, 2])[0])\n",
    "src/plugins/__init__.py": "VALUE = 7\n",
    "src/extras/__init__.py": "VALUE = 9\n",
}
ROWS = pd.DataFrame({"value": [1.0, 2.0, 3.0]})
# Environments are cached by requirements: one added by hand (installed there anyway, as a
# dependency of MLflow's) keeps the environment of the slow tests here apart from one that
# test_environment breaks on purpose (same base requirements and sortedcontainers).
OWN_ENVIRONMENT = ["idna"]
EXPECTED = [3.0, 5.0, 7.0]  # value * 2 * 1.0 + 1.0


# every project of these tests has packages of these names beside its own
BESIDE_NAMES = ("common", "units", "datamanager", "plugins", "extras")


def forget_beside() -> None:
    for name in [name for name in sys.modules if name.partition(".")[0] in BESIDE_NAMES]:
        del sys.modules[name]


@pytest.fixture
def project(make_project) -> Iterator[LoadedProject]:
    forget_beside()  # another test's project had packages of the same names
    root = make_project(nodes=NODES, pipelines=PIPELINES, parameters="factor: 2.0\n", files=BESIDE)
    (package,) = [path for path in (root / "src").iterdir() if path.name.startswith("project_")]
    (package / "plugged.py").write_text(PLUGGED)
    (package / "ranked.py").write_text(RANKED)
    yield load_project(root)
    forget_beside()


def code_entries(model_uri: str) -> set[str]:
    return {path.name for path in (model_folder(model_uri) / "code").iterdir()}


def left_out_facts(summary: str) -> list[str]:
    """The values of a log summary's "left out" lines."""
    label = "left out"
    return [line[len(label) :].strip() for line in summary.splitlines() if line.startswith(label)]


def requirements_of(model_uri: str) -> list[str]:
    return (model_folder(model_uri) / "requirements.txt").read_text().split()


def test_packages_beside_the_project_package_ship_and_their_libraries_are_required(
    project: LoadedProject,
) -> None:
    """The intermediate ``predictions`` is the output: ``metrics`` is not needed for it and
    ``save`` writes elsewhere; both are left out and named."""
    info = log_pipeline_model(
        project.pipelines["inference"], project.catalog, "rows", ROWS, output="predictions"
    )
    shipped = code_entries(info.model_uri)
    assert {project.package, "common", "units.py", "datamanager"} <= shipped
    assert not {"plugins", "extras"} & shipped  # what the inference nodes never import
    requirements = requirements_of(info.model_uri)
    assert f"sortedcontainers=={version('sortedcontainers')}" in requirements
    assert not any(line.lower().startswith(project.package) for line in requirements)
    manifest = manifest_of(model_folder(info.model_uri))
    assert [node["name"] for node in manifest["nodes"]] == ["predict"]
    assert left_out_facts(str(info)) == [
        "metrics (not needed for the output)",
        "save (no outputs: writes elsewhere)",
    ]
    import mlflow

    predicted = mlflow.pyfunc.load_model(info.model_uri).predict(ROWS)
    assert predicted["prediction"].tolist() == EXPECTED


def test_the_roles_name_the_nodes_left_out_and_an_unknown_output_lists_the_choices(
    project: LoadedProject,
) -> None:
    pipeline = project.pipelines["inference"]
    roles = inspect_pipeline(pipeline, project.catalog, "rows", output="predictions")
    assert roles.outputs == ["predictions"]
    assert [(node.name, node.reason) for node in roles.left_out] == [
        ("metrics", "not needed for the output"),
        ("save", "no outputs: writes elsewhere"),
    ]
    assert "left out: metrics (not needed for the output)" in str(roles)
    assert "left out: save (no outputs: writes elsewhere)" in roles._repr_html_()
    # without an output: the model needs what the outputs need; the node writing elsewhere
    # is left out all the same
    whole = inspect_pipeline(pipeline, project.catalog, "rows")
    assert [(node.name, node.reason) for node in whole.left_out] == [
        ("save", "no outputs: writes elsewhere")
    ]
    with pytest.raises(OutputNotChosenError) as raised:
        inspect_pipeline(pipeline, project.catalog, "rows", output="predicted")
    assert str(raised.value) == (
        "'predicted' is not a dataset the pipeline produces; pick one of its outputs: metrics, "
        "or a dataset it produces on the way: predictions"
    )


def test_the_magics_take_an_intermediate_output(project: LoadedProject, project_notebook) -> None:
    shell = project_notebook(project, rows=ROWS)
    roles = shell.run_line_magic("kedro_inputs", "inference --input rows --output predictions")
    assert [node.name for node in roles.left_out] == ["metrics", "save"]
    info = shell.run_line_magic(
        "kedro_log_model", "inference --input rows --sample rows --output predictions"
    )
    assert left_out_facts(str(info))[0] == "metrics (not needed for the output)"


def test_a_module_imported_by_a_computed_name_fails_the_log_and_the_include_fixes_it(
    project: LoadedProject,
) -> None:
    """``plugins`` is imported by a name no scan can read, before the log (when the project
    loaded): the fresh process finds the model lacks it; the fix it names works."""
    pipeline = project.pipelines["plugged"]
    with pytest.raises(ShippedCodeError) as raised:
        log_pipeline_model(pipeline, project.catalog, "rows", ROWS)
    message = str(raised.value)
    assert "\n" not in message
    assert "node 'plugged' fails to import its module" in message
    assert "No module named 'plugins'" in message
    assert message.endswith(
        "the model lacks the project's module 'plugins': ship it: log again with "
        "include=['../plugins'] (--include ../plugins)"
    )
    info = log_pipeline_model(pipeline, project.catalog, "rows", ROWS, include=["../plugins"])
    assert "plugins" in code_entries(info.model_uri)
    assert manifest_of(model_folder(info.model_uri))["included_files"] == ["plugins/__init__.py"]


def test_a_module_the_stand_ins_cannot_import_is_checked_with_the_real_libraries(
    project: LoadedProject,
) -> None:
    """The stand-ins fail on it (a metaclass conflict), the real libraries do not: the log
    passes."""
    code = project.root / "probe-code"
    code.mkdir()
    (code / "ranked_module.py").write_text(RANKED)
    verdicts = {}
    for stand_ins in (True, False):
        request = {
            "code": [str(code)], "hidden": [], "installed": site_packages(),
            "stand_ins": stand_ins, "nodes": {"rank": "ranked_module:rank"},
        }  # fmt: skip
        (code.parent / "request.json").write_text(json.dumps(request))
        subprocess.run(
            [sys.executable, "-I", str(PROBE), str(code.parent / "request.json"),
             str(code.parent / "report.json")], check=True, cwd=code.parent,
        )  # fmt: skip
        verdicts[stand_ins] = json.loads((code.parent / "report.json").read_text())
    assert not verdicts[True]["ok"] and "metaclass conflict" in verdicts[True]["error"]
    assert verdicts[False]["ok"]
    info = log_pipeline_model(project.pipelines["ranked"], project.catalog, "rows", ROWS)
    assert info.logged.comparison.agree


def test_the_project_installed_in_editable_mode_is_never_a_requirement(
    project: LoadedProject, tmp_path: Path
) -> None:
    """As ``pip install -e .`` leaves it: a dist-info whose direct_url points at the project,
    declaring the project package and the packages beside it."""
    site = tmp_path / "site"
    info_folder = site / "churn_project-0.1.dist-info"
    info_folder.mkdir(parents=True)
    (info_folder / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: churn-project\nVersion: 0.1\n"
    )
    (info_folder / "direct_url.json").write_text(
        json.dumps({"url": project.root.as_uri(), "dir_info": {"editable": True}})
    )
    (info_folder / "top_level.txt").write_text(f"{project.package}\ncommon\ndatamanager\nunits\n")
    (info_folder / "RECORD").write_text("")
    sys.path.insert(0, str(site))
    project_code.editable_distributions.cache_clear()
    try:
        assert version("churn-project") == "0.1"
        info = log_pipeline_model(
            project.pipelines["inference"], project.catalog, "rows", ROWS, output="predictions"
        )
    finally:
        sys.path.remove(str(site))
        importlib.invalidate_caches()
        project_code.editable_distributions.cache_clear()
    requirements = requirements_of(info.model_uri)
    assert not any("churn" in line for line in requirements), requirements
    assert f"sortedcontainers=={version('sortedcontainers')}" in requirements
    assert {"common", "datamanager", "units.py"} <= code_entries(info.model_uri)


def test_an_include_beside_the_package_ships_there_and_one_outside_the_source_folder_is_refused(
    project: LoadedProject,
) -> None:
    from kedro_mlflow_magic import prepare_pipeline
    from kedro_mlflow_magic.errors import IncludeError

    with pytest.raises(IncludeError, match=r"include '../../conf/base/parameters.yml' is outside "
                       r"the project's source folder"):  # fmt: skip
        prepare_pipeline(
            project.pipelines["late"], project.catalog, "rows", ROWS,
            include=["../../conf/base/parameters.yml"],
        )  # fmt: skip
    with pytest.raises(IncludeError, match=r"include '../nowhere': no such file"):
        prepare_pipeline(
            project.pipelines["late"], project.catalog, "rows", ROWS, include=["../nowhere"]
        )


@pytest.mark.slow
def test_served_from_a_fresh_environment_of_its_requirements_without_the_project(
    project: LoadedProject, mlflow_store: str, tmp_path: Path
) -> None:
    """Built from the model's requirements alone (uv, as ``mlflow models serve`` builds it),
    without the project or this package: the model serves what the pipeline gives."""
    info = log_pipeline_model(
        project.pipelines["inference"], project.catalog, "rows", ROWS, output="predictions",
        extra_requirements=OWN_ENVIRONMENT,
    )  # fmt: skip
    checked = check_environment(info.model_uri)
    assert checked.agree, checked
    assert "kedro-mlflow-magic" not in {name.lower() for name in checked.installed}
    mlflow_there = checked.environment / "bin" / "mlflow"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    command = [str(mlflow_there), "models", "serve", "-m", info.model_uri, "--env-manager", "local"]
    with running_server(
        lambda port: [*command, "-h", "127.0.0.1", "-p", str(port)], "/ping",
        tmp_path / "server.log", cwd=elsewhere, env=clean_environment(mlflow_store),
    ) as server:  # fmt: skip
        body = {"dataframe_split": json.loads(ROWS.to_json(orient="split"))}
        response = requests.post(f"{server.url}/invocations", json=body, timeout=60)
    assert response.status_code == 200, response.text[:500]
    answers = pd.DataFrame(response.json()["predictions"])
    assert answers["prediction"].tolist() == EXPECTED


@pytest.mark.slow
def test_check_environment_advises_the_include_for_a_module_of_the_project(
    project: LoadedProject,
) -> None:
    """``extras`` is imported at call time, by a computed name, and was imported before the
    log: only a fresh environment finds the model lacks it; the advice is the include, which
    works."""
    importlib.import_module("extras")
    pipeline = project.pipelines["late"]
    info = log_pipeline_model(
        pipeline, project.catalog, "rows", ROWS, extra_requirements=OWN_ENVIRONMENT
    )
    with pytest.raises(EnvironmentCheckError) as raised:
        check_environment(info.model_uri)
    message = str(raised.value)
    assert "--requirement" not in message
    assert message.endswith("log it again with include=['../extras'] (--include ../extras)")
    fixed = log_pipeline_model(
        pipeline, project.catalog, "rows", ROWS, include=["../extras"],
        extra_requirements=OWN_ENVIRONMENT,
    )  # fmt: skip
    assert check_environment(fixed.model_uri).agree
