"""The quickstart notebook, executed on a real Jupyter kernel (nbclient), with its outputs
checked cell by cell."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from projects import execute_notebook

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "quickstart.ipynb"


def output_text(cell: nbformat.NotebookNode) -> str:
    """Everything a cell showed: streams, results and displays (HTML and text), errors."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
        else:
            data = output.get("data", {})
            parts.extend(str(data.get(kind, "")) for kind in ("text/html", "text/plain"))
    return "\n".join(parts)


# What Kedro's and MLflow's logging, warnings and progress bars look like in a cell.
THIRD_PARTY_NOISE = re.compile(
    r"INFO mlflow|WARNING|register_new_resolver|Downloading artifacts|Validating input example"
    r"|Successfully registered|Created version|UserWarning|FutureWarning|DeprecationWarning"
)


def magic_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The code cells whose first line runs one of our magics."""
    ours = re.compile(r"^(\w+\s*=\s*)?%%?kedro_(inputs|log_model|predict|signature)\b")
    return [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and ours.match(cell.source.splitlines()[0])
    ]


def empty_outputs(cell: nbformat.NotebookNode) -> list[dict]:
    """Outputs that show nothing (rich's empty ``<pre></pre>`` displays, empty streams)."""
    empty = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            shown = output["text"]
        elif output["output_type"] == "error":
            continue
        else:
            data = output.get("data", {})
            shown = re.sub(r"<[^>]+>", "", str(data.get("text/html", ""))) + str(
                data.get("text/plain", "")
            )
            shown += "".join(str(value) for kind, value in data.items() if "widget" in kind)
        if not shown.strip():
            empty.append(output)
    return empty


def cell_starting(notebook: nbformat.NotebookNode, source_start: str) -> nbformat.NotebookNode:
    return next(
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.source.startswith(source_start)
    )


def test_quickstart_is_saved_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    assert all(not cell.outputs and cell.execution_count is None for cell in code_cells)


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> tuple[nbformat.NotebookNode, Path]:
    """The quickstart run top to bottom on a python3 kernel, in a folder of its own, with
    MLflow left to the project's default store (SPEC 7)."""
    from nbclient import NotebookClient

    workspace = tmp_path_factory.mktemp("quickstart")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KEDRO_MLFLOW_QUICKSTART_DIR", str(workspace))
        patch.setenv("KEDRO_DISABLE_TELEMETRY", "true")
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        client = NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(workspace)}},
        )
        execute_notebook(client)
    return notebook, workspace / "churn-demo"


@pytest.mark.slow
def test_quickstart_runs_end_to_end(executed):
    notebook, project = executed
    assert (project / "data" / "06_models" / "classifier.pkl").is_file()
    # Runs went to the project's own sqlite store, whatever folder the kernel ran in.
    assert (project / "mlflow.db").is_file()
    assert (project / "mlartifacts").is_dir()

    roles = output_text(cell_starting(notebook, "%kedro_inputs"))
    assert "customers_to_score" in roles and "data input" in roles and "artifact" in roles

    logged = output_text(cell_starting(notebook, "info = %kedro_log_model"))
    assert re.search(r"models:/m-[0-9a-f]+", logged)
    assert "all 50 rows agree" in logged  # the whole sample is checked
    assert "churn_demo_model version 1" in logged

    plain = output_text(cell_starting(notebook, "%kedro_predict --data sample.head(5)"))
    assert "churn_probability" in plain

    overridden = output_text(cell_starting(notebook, "%kedro_predict --data sample.head(5) --"))
    assert "leaves" in overridden

    compared = output_text(cell_starting(notebook, "checked = %kedro_predict"))
    assert "model and pipeline agree: all 50 rows agree" in compared

    typed = output_text(cell_starting(notebook, "%%kedro_predict"))
    assert "1001" in typed and "1002" in typed

    mistake = output_text(cell_starting(notebook, "%kedro_predict --data sample --params tres"))
    assert "UsageError" in mistake
    assert "unknown parameter 'treshold'; the model's parameters are:" in mistake
    assert "Traceback" not in mistake

    plain_mlflow = output_text(cell_starting(notebook, "import mlflow"))
    assert "churn_probability" in plain_mlflow


@pytest.mark.slow
def test_magic_cells_show_only_our_display(executed):
    """Each magic's cell shows what the product shows: no line of Kedro's or MLflow's logging,
    no warning, no progress bar, no empty output."""
    notebook, _project = executed
    cells = magic_cells(notebook)
    assert len(cells) >= 7
    for cell in cells:
        shown = output_text(cell)
        assert not THIRD_PARTY_NOISE.search(shown), (cell.source, shown[:2000])
        assert not empty_outputs(cell), (cell.source, empty_outputs(cell))
        assert cell.outputs, cell.source  # every magic cell shows something


@pytest.mark.slow
def test_logged_summary_displays_under_kedro_rich_printer(executed):
    """%reload_kedro installs rich's printer: ``info`` alone and ``print(info)`` both show the
    log's summary, and MLflow's integer-column hint is a note in our words."""
    notebook, _project = executed
    logged = output_text(cell_starting(notebook, "info = %kedro_log_model"))
    assert "integer columns, which cannot hold missing values" in logged
    shown = output_text(cell_starting(notebook, "info\n"))
    printed = output_text(cell_starting(notebook, "print(info)"))
    for text in (shown, printed):
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # rich colours the text form
        assert "model URI" in text and "parity check  all 50 rows agree" in text
    assert "ModelInfo(" not in shown + printed
