"""The quickstart notebook, executed on a real Jupyter kernel (nbclient), with its outputs
checked cell by cell."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from kernels import THIRD_PARTY_NOISE, cell_starting, cell_text, empty_outputs, run_notebook

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "quickstart.ipynb"


def output_text(cell: nbformat.NotebookNode) -> str:
    """Everything a cell showed: streams (as Jupyter joins them), results and displays (HTML
    and text), errors."""
    return cell_text(cell, html=True)


def magic_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The code cells whose first line runs one of our magics."""
    ours = re.compile(r"^(\w+\s*=\s*)?%%?kedro_(inputs|log_model|predict|signature)\b")
    return [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and ours.match(cell.source.splitlines()[0])
    ]


def test_quickstart_is_saved_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    assert all(not cell.outputs and cell.execution_count is None for cell in code_cells)


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> tuple[nbformat.NotebookNode, Path]:
    """The quickstart run top to bottom on a python3 kernel, in a folder of its own, with
    MLflow left to the project's default store (docs/explanation/behaviour.md#where-runs-go)."""
    workspace = tmp_path_factory.mktemp("quickstart")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    run_notebook(notebook, workspace, environment={"KEDRO_MLFLOW_QUICKSTART_DIR": str(workspace)})
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
def test_loading_the_project_shows_one_line_of_ours(executed):
    """%reload_kedro shows where the project is and what the notebook holds, in one line: not
    Kedro's log lines nor the deprecation warnings of its dependencies."""
    notebook, project = executed
    shown = output_text(cell_starting(notebook, "%reload_kedro"))
    assert shown.strip() == (
        f"Loaded the Kedro project in {project}: session, context, catalog and pipelines are "
        "defined"
    )


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


@pytest.mark.slow
def test_training_with_kedro_shows_its_node_lines_and_no_warning(executed):
    """Outside our magics Kedro logs as the project configures it: ``session.run()`` shows its
    node lines, as plain Kedro does, and no warning (no deprecated argument, none of Kedro's
    OmegaConf resolver deprecations); no empty output after the cell's value."""
    notebook, _project = executed
    cell = cell_starting(notebook, "session.run(")
    shown = cell_text(cell, html=False, ansi=False)
    assert "Completed node: fit_encoder" in shown
    assert "WARNING" not in shown and "Warning" not in shown and "deprecated" not in shown
    assert not empty_outputs(cell)
    assert "classifier.pkl" in shown  # the cell's value
