"""Notebooks on real Jupyter kernels (nbclient) for the tests: running one with a given
environment, and reading what a cell showed as Jupyter shows it.

A kernel sends a cell's printed text in as many stream messages as its flushes make (on a
loaded machine ``print("ROWS", 5)`` may arrive as ``"ROWS"`` and ``" 5\\n"``). Jupyter displays
consecutive stream outputs of one name as one text, so ``cell_text`` joins them first (with
nbconvert's ``CoalesceStreamsPreprocessor``, which also applies carriage returns): a test reads
what a person sees, whatever the chunking."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import nbformat
import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")

# What Kedro's and MLflow's logging, warnings and progress bars look like in a cell.
THIRD_PARTY_NOISE = re.compile(
    r"INFO mlflow|WARNING|register_new_resolver|Downloading artifacts|Validating input example"
    r"|Successfully registered|Created version|UserWarning|FutureWarning|DeprecationWarning"
)


def shown_outputs(cell: Mapping[str, Any]) -> list[nbformat.NotebookNode]:
    """The cell's outputs as Jupyter displays them: consecutive stream outputs of the same name
    (stdout, stderr) joined into one, carriage returns applied. The cell is left as it is."""
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    joined = nbformat.from_dict(copy.deepcopy(dict(cell)))
    joined.setdefault("outputs", [])
    joined, _resources = CoalesceStreamsPreprocessor().preprocess_cell(joined, {}, 0)
    return list(joined.outputs)


def cell_text(
    cell: Mapping[str, Any], *, html: bool = False, tracebacks: bool = False, ansi: bool = True
) -> str:
    """Everything a cell showed, one output a line: its streams (joined as Jupyter shows them),
    results and displays (``text/plain``; ``text/html`` before it with ``html``), errors as
    ``Name: value`` (with their traceback lines with ``tracebacks``). ``ansi=False`` takes out
    the terminal colour codes (rich's and IPython's)."""
    kinds = ("text/html", "text/plain") if html else ("text/plain",)
    parts = []
    for output in shown_outputs(cell):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
            if tracebacks:
                parts.append("\n".join(output.get("traceback", [])))
        else:
            data = output.get("data", {})
            parts.extend(str(data.get(kind, "")) for kind in kinds)
    text = "\n".join(parts)
    return text if ansi else ANSI.sub("", text)


def empty_outputs(cell: Mapping[str, Any]) -> list[dict]:
    """Outputs that show nothing (rich's empty ``<pre></pre>`` displays, empty streams)."""
    empty = []
    for output in shown_outputs(cell):
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
    """The first code cell whose source starts with ``source_start``."""
    return next(
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.source.startswith(source_start)
    )


def code_notebook(sources: Iterable[str]) -> nbformat.NotebookNode:
    """A notebook of code cells."""
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def execute_notebook(client: Any) -> None:
    """Run a notebook with nbclient; when a cell fails, the error names what the cells printed
    (a UsageError reaches a kernel's reply with an empty traceback, so nbclient's own message
    shows the cell's source alone)."""
    from nbclient.exceptions import CellExecutionError

    try:
        client.execute()
    except CellExecutionError as error:
        printed = [
            output.get("text", "") or f"{output.get('ename')}: {output.get('evalue')}"
            for cell in client.nb.cells
            for output in shown_outputs(cell)
            if output.get("name") == "stderr" or output.get("output_type") == "error"
        ]
        raise AssertionError(
            f"{error}\n{error.ename}: {error.evalue}\nwhat the cells printed on stderr:\n"
            + "".join(printed[-5:])
        ) from error


# The kernel inherits the test process's environment: nothing of MLflow's choice of store or
# experiment may leak into it from the test session (the conftest's store, another test's
# experiment), unless a test sets it on purpose.
MLFLOW_CHOICES = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID")
OFF_SWITCHES = {"KEDRO_DISABLE_TELEMETRY": "true", "MLFLOW_DISABLE_TELEMETRY": "true"}


def run_notebook(
    notebook: nbformat.NotebookNode,
    folder: Path,
    *,
    kernel_name: str = "python3",
    environment: Mapping[str, str] | None = None,
    allow_errors: bool = False,
    timeout: int = 600,
) -> nbformat.NotebookNode:
    """Run ``notebook`` top to bottom on a real kernel started in ``folder``, with the test
    process's environment minus MLflow's store and experiment choices, plus ``environment``;
    return it with its outputs. With ``allow_errors``, a failing cell's error is kept as its
    output (for tests that look for it); else the first failing cell fails the test."""
    from nbclient import NotebookClient

    with pytest.MonkeyPatch.context() as patch:
        for name in MLFLOW_CHOICES:
            patch.delenv(name, raising=False)
        for name, value in {**OFF_SWITCHES, **(environment or {})}.items():
            patch.setenv(name, value)
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name=kernel_name,
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(folder)}},
        )
        execute_notebook(client)
    return notebook
