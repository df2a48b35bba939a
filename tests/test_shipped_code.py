"""Only code goes into a model (docs/explanation/behaviour.md#the-logged-model): the project
package's Python source, plus the files a user names with ``include``; never dot-files, notebooks,
data files or caches."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError
from model_files import DOTENV_TOKEN, NOTEBOOK_TOKEN, manifest_of, model_folder, model_problems
from servers import run_python
from sessions import load_project

from kedro_mlflow_magic import log_pipeline_model, prepare_pipeline
from kedro_mlflow_magic.build.shipped_code import ENTRY_FILE, RUNTIME_PACKAGE, shipped_runtime_name
from kedro_mlflow_magic.errors import IncludeError

NODES = '''
import json
from pathlib import Path

import pandas as pd

from .helpers.scaling import scale_by

LOOKUP = Path(__file__).parent / "data" / "lookup.json"


def score(rows: pd.DataFrame, factor: float) -> pd.DataFrame:
    return rows.assign(score=scale_by(rows["value"], factor))


def label(rows: pd.DataFrame) -> pd.DataFrame:
    """Reads a data file kept beside the code: it ships only when the user includes it."""
    names = json.loads(LOOKUP.read_text())
    return rows.assign(label=rows["key"].map(names))
'''

PIPELINES = """return {
    "score": pipeline([node(nodes.score, ["rows", "params:factor"], "scored")]),
    "label": pipeline([node(nodes.label, "rows", "labelled")]),
}"""

BIG_BINARY_BYTES = 20 * 1024 * 1024
ROWS = pd.DataFrame({"key": ["a", "b", "a"], "value": [1.0, 2.0, 3.0]})


def package_folder(root: Path) -> Path:
    (folder,) = [path for path in (root / "src").iterdir() if path.name.startswith("project_")]
    return folder


@pytest.fixture
def project(make_project):
    """A project whose package folder holds more than code: a 20 MB binary, a data file, a
    hidden folder, a stale cache, and (planted by make_project) a .env and a notebook."""
    root = make_project(nodes=NODES, pipelines=PIPELINES, parameters="factor: 2.0\n")
    package = package_folder(root)
    extra = {
        "helpers/__init__.py": "",
        "helpers/scaling.py": "def scale_by(values, factor):\n    return values * factor\n",
        "data/lookup.json": json.dumps({"a": "apple", "b": "banana"}),
        ".secrets/token.py": f"TOKEN = '{DOTENV_TOKEN}'\n",
        "__pycache__/stale.cpython-311.pyc": "not really bytecode",
    }
    for relative, text in extra.items():
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(text)
    (package / "weights.bin").write_bytes(os.urandom(BIG_BINARY_BYTES))
    return load_project(root)


def files_under(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def size_of(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def test_only_the_python_source_ships_and_the_model_stays_small(project) -> None:
    package = project.package
    assert (package_folder(project.root) / ".env").read_text().strip().endswith(DOTENV_TOKEN)
    info = log_pipeline_model(project.pipelines["score"], project.catalog, "rows", ROWS)
    folder = model_folder(info.model_uri)

    runtime = shipped_runtime_name()
    assert files_under(folder / "code") == {
        f"{package}/{name}"
        for name in (
            "__init__.py", "nodes.py", "pipeline_registry.py", "settings.py",
            "helpers/__init__.py", "helpers/scaling.py",
        )
    } | {
        # the runtime's source under its shipped name
        f"{runtime}/{path.name}" for path in RUNTIME_PACKAGE.glob("*.py")
    }  # fmt: skip
    assert (folder / ENTRY_FILE).is_file()  # the entry file MLflow runs, at the model's top
    # the 20 MB binary beside the code stays out: the whole model is a few hundred kB
    assert size_of(folder) < 1024 * 1024, size_of(folder)
    assert manifest_of(folder)["included_files"] == []
    assert model_problems(folder, {DOTENV_TOKEN, NOTEBOOK_TOKEN}) == []
    # the suite-wide scan would catch the package's .env and notebook had they shipped
    # (planted in a copy outside the test session's folders, which the scan would fail on)
    with tempfile.TemporaryDirectory() as elsewhere:
        planted = Path(elsewhere) / "planted"
        shutil.copytree(folder, planted)
        for name in (".env", "exploration.ipynb"):
            shutil.copy(package_folder(project.root) / name, planted / "code" / package / name)
        problems = model_problems(planted, {DOTENV_TOKEN, NOTEBOOK_TOKEN})
    for name, token in ((".env", DOTENV_TOKEN), ("exploration.ipynb", NOTEBOOK_TOKEN)):
        assert any(name in problem and token in problem for problem in problems), problems
        assert any(name in problem and "not Python source" in problem for problem in problems)


def test_an_included_data_file_ships_and_the_manifest_names_it(project) -> None:
    import mlflow

    info = log_pipeline_model(
        project.pipelines["label"], project.catalog, "rows", ROWS, include=["data/lookup.json"]
    )
    folder = model_folder(info.model_uri)
    shipped = f"{project.package}/data/lookup.json"
    assert shipped in files_under(folder / "code")
    assert manifest_of(folder)["included_files"] == [shipped]
    assert "weights.bin" not in str(files_under(folder))
    predicted = mlflow.pyfunc.load_model(info.model_uri).predict(ROWS)
    assert list(predicted["label"]) == ["apple", "banana", "apple"]


LOADER = textwrap.dedent(
    """\
    import sys

    import mlflow
    import pandas as pd

    model = mlflow.pyfunc.load_model(sys.argv[1])
    frame = pd.DataFrame({"key": ["b", "a"], "value": [1.0, 2.0]})
    print("labels:", ",".join(model.predict(frame)["label"]))
    print("read from:", sys.modules[sys.argv[2] + ".nodes"].LOOKUP)
    """
)


@pytest.mark.slow
def test_the_included_file_is_read_from_the_model_in_a_process_without_the_project(
    project, mlflow_store: str, tmp_path: Path
) -> None:
    info = log_pipeline_model(
        project.pipelines["label"], project.catalog, "rows", ROWS, include="data"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "load.py").write_text(LOADER)
    printed = run_python(["load.py", info.model_uri, project.package], elsewhere, mlflow_store)
    assert "labels: banana,apple" in printed
    read_from = printed.split("read from:", 1)[1].strip()
    assert f"/code/{project.package}/data/lookup.json" in read_from
    # (the model's files sit under the project's mlartifacts/, never in its package folder)
    assert not read_from.startswith(str(package_folder(project.root)))


@pytest.mark.parametrize(
    "include, message",
    [
        ("data/missing.json", r"include 'data/missing.json': no such file in the package folder "
         r".*project_\w+; paths are relative to the package folder"),
        ("../../conf/base/parameters.yml", r"include '../../conf/base/parameters.yml' is outside "
         r"the project's source folder"),
        ("/etc/hostname", r"include '/etc/hostname' is outside the project's source folder"),
        (".env", r"include '.env' is a hidden file or a cache; models never ship dot-files"),
        ("__pycache__", r"include '__pycache__' is a hidden file or a cache"),
    ],
)  # fmt: skip
def test_a_wrong_include_is_named_before_any_work(project, include, message) -> None:
    with pytest.raises(IncludeError, match=message):
        prepare_pipeline(
            project.pipelines["label"], project.catalog, "rows", ROWS, include=[include]
        )


def test_the_magic_takes_include_and_names_a_wrong_path(
    project, ipython_shell, trained_demo: Path
) -> None:
    import mlflow

    shell = ipython_shell
    shell.run_line_magic("load_ext", "kedro_mlflow_magic")
    names = ("session", "context", "catalog", "pipelines")
    saved = {name: shell.user_ns[name] for name in names if name in shell.user_ns}
    try:
        shell.run_line_magic("reload_kedro", str(project.root))
        shell.user_ns["rows"] = ROWS
        with pytest.raises(UsageError, match=r"include 'nope.json': no such file"):
            shell.run_line_magic(
                "kedro_log_model", "label --input rows --sample rows --include nope.json"
            )
        info = shell.run_line_magic(
            "kedro_log_model", "label --input rows --sample rows --include data/lookup.json"
        )
    finally:
        # Kedro's `pipelines` is one global object: point it back at the demo.
        shell.run_line_magic("reload_kedro", str(trained_demo))
        shell.user_ns.update(saved)
    folder = model_folder(info.model_uri)
    assert manifest_of(folder)["included_files"] == [f"{project.package}/data/lookup.json"]
    assert list(mlflow.pyfunc.load_model(info.model_uri).predict(ROWS)["label"])[:1] == ["apple"]
