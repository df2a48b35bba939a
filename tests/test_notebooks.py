"""The quickstart notebook, executed on a real Jupyter kernel (nbclient), with its outputs
checked cell by cell."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

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
        client.execute()
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
