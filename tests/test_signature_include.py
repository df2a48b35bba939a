"""``%kedro_signature`` takes the log options of ``%kedro_log_model``: its editor's "Log model"
button (the real button object, clicked) logs a pipeline whose node reads a file shipped with
``--include``, registered under ``--register``, as ``%kedro_log_model`` would."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError
from projects import write_project

NODES = """\
import json
from pathlib import Path

LOOKUP = Path(__file__).parent / "data" / "lookup.json"


def label(rows):
    names = json.loads(LOOKUP.read_text())
    return rows.assign(label=rows["key"].map(names))
"""
PIPELINES = 'return {"label": pipeline([node(nodes.label, "rows", "labelled")])}'
ROWS = pd.DataFrame({"key": ["a", "b", "a"], "value": [1.0, 2.0, 3.0]})


@pytest.fixture
def notebook(ipython_shell, tmp_path: Path, trained_demo: Path) -> Iterator:
    """A shell with the project loaded by ``%reload_kedro``; the demo loaded back afterwards
    (Kedro's ``pipelines`` is one global object)."""
    package = f"project_{uuid.uuid4().hex[:10]}"
    root = write_project(
        tmp_path / package, NODES, PIPELINES, package=package,
        files={f"src/{package}/data/lookup.json": json.dumps({"a": "apple", "b": "banana"})},
    )  # fmt: skip
    shell = ipython_shell
    shell.run_line_magic("load_ext", "kedro_mlflow_magic")
    names = ("session", "context", "catalog", "pipelines", "rows")
    saved = {name: shell.user_ns[name] for name in names if name in shell.user_ns}
    shell.run_line_magic("reload_kedro", str(root))
    shell.user_ns["rows"] = ROWS
    try:
        yield shell
    finally:
        shell.run_line_magic("reload_kedro", str(trained_demo))
        for name in names:
            shell.user_ns.pop(name, None)
        shell.user_ns.update(saved)


def test_the_editors_button_logs_with_the_lines_include_and_register(notebook) -> None:
    import mlflow

    from kedro_mlflow_magic.runtime import read_manifest

    name = f"labels_{uuid.uuid4().hex[:8]}"
    editor = notebook.run_line_magic(
        "kedro_signature",
        f"label --input rows --sample rows --include data/lookup.json --register {name} "
        "--alias challenger --example-rows 2",
    )
    assert editor.options.registered_model_name == name
    editor._log_button.click()  # what a person's click does
    assert editor.error is None, editor.error
    info = editor.model_info
    assert info is not None and editor.logged.registered_version == 1
    model = mlflow.pyfunc.load_model(f"models:/{name}@challenger")
    package = editor.prepared.project.path.name  # write_project names the package so
    assert read_manifest(model.model_config)["included_files"] == [f"{package}/data/lookup.json"]
    predicted = model.predict(ROWS)
    assert list(predicted["label"]) == ["apple", "banana", "apple"]


def test_a_wrong_include_is_one_line_before_the_editor_shows(notebook) -> None:
    with pytest.raises(UsageError, match=r"include 'nope.json': no such file"):
        notebook.run_line_magic(
            "kedro_signature", "label --input rows --sample rows --include nope.json"
        )
