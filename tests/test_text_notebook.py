"""The magics on the text-classifier-shaped project (issue 10), in a notebook executed on a real
Jupyter kernel (nbclient): a persisted frame as the data input, found without --input or
--sample, and magic cells that show only the product's own display."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import nbformat
import pytest
from kernels import (
    THIRD_PARTY_NOISE,
    cell_starting,
    cell_text,
    code_notebook,
    empty_outputs,
    run_notebook,
)

# Beyond the quickstart's noise: any log line of Kedro's or MLflow's (their level names).
LOG_LEVELS = re.compile(r"\b(INFO|WARNING|DEBUG|ERROR)\b|Traceback")
TEXTS = '["I loved it", "what a waste of time", "great fun and loved the cast"]'


def text_notebook(project: Path) -> nbformat.NotebookNode:
    """``%load_ext``, ``%reload_kedro``, then each magic with what the project makes implicit:
    no --input, no --sample; --data an unquoted expression with spaces."""
    sources = [
        "%load_ext kedro_mlflow_magic",
        f"%reload_kedro {project}",
        "import pandas as pd",
        "%kedro_inputs inference",
        "info = %kedro_log_model inference",
        "print(info.model_uri)",
        f"%kedro_predict --data pd.DataFrame({{'text': {TEXTS}}})",
    ]
    return code_notebook(sources)


@pytest.fixture(scope="module")
def trained_text_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The text-classifier project (see ``projects.write_text_project``), trained once."""
    from projects import write_text_project
    from sessions import train

    root = write_text_project(tmp_path_factory.mktemp("text") / f"text_{uuid.uuid4().hex[:10]}")
    train(root)
    return root


@pytest.fixture(scope="module")
def executed_text_notebook(trained_text_root: Path) -> nbformat.NotebookNode:
    """The notebook run top to bottom on a python3 kernel in a folder beside the project (so
    that ``%reload_kedro <project>`` loads it), with MLflow left to the project's own (new)
    sqlite store."""
    notebooks = trained_text_root.parent / "notebooks"
    notebooks.mkdir()
    return run_notebook(text_notebook(trained_text_root), notebooks)


def output_text(cell: nbformat.NotebookNode) -> str:
    """Everything a cell showed (streams as Jupyter joins them, HTML displays too)."""
    return cell_text(cell, html=True)


@pytest.mark.slow
def test_magics_on_the_text_project_find_the_persisted_data_input(
    executed_text_notebook: nbformat.NotebookNode, trained_text_root: Path
) -> None:
    notebook = executed_text_notebook
    roles = output_text(cell_starting(notebook, "%kedro_inputs"))
    assert "reviews" in roles and "data input" in roles
    assert "ready to log" in roles and "problem" not in roles  # found, and nothing contradicts it
    for artifact in ("tokenizer", "encoder", "model", "settings"):
        assert artifact in roles

    logged = output_text(cell_starting(notebook, "info = %kedro_log_model"))
    assert re.search(r"models:/m-[0-9a-f]+", logged)
    assert "all 18 rows agree" in logged  # the persisted frame was loaded as the sample
    assert re.search(r"models:/m-[0-9a-f]+", output_text(cell_starting(notebook, "print(info")))
    assert (trained_text_root / "mlflow.db").is_file()  # the project's own store

    predicted = output_text(cell_starting(notebook, "%kedro_predict"))
    # the output's exact form (array or one-column frame) may change; the labels may not
    assert re.search(r"\bgood\b", predicted) and re.search(r"\bbad\b", predicted)


@pytest.mark.slow
def test_text_project_magic_cells_show_only_our_display(
    executed_text_notebook: nbformat.NotebookNode,
) -> None:
    """%load_ext and each magic's cell: something shown, all of it ours; no log line, warning
    or progress bar of Kedro's or MLflow's, no empty output (rich's ``<pre></pre>``)."""
    notebook = executed_text_notebook
    ours = [
        cell_starting(notebook, start)
        for start in ("%load_ext", "%kedro_inputs", "info = %kedro_log_model", "%kedro_predict")
    ]
    for checked in ours:
        shown = output_text(checked)
        assert not THIRD_PARTY_NOISE.search(shown), (checked.source, shown[:2000])
        assert not LOG_LEVELS.search(shown), (checked.source, shown[:2000])
        assert not empty_outputs(checked), (checked.source, empty_outputs(checked))
        assert "<pre></pre>" not in shown, checked.source
    for checked in ours[1:]:
        assert checked.outputs, checked.source  # every magic cell shows something
