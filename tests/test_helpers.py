"""The shared test helpers themselves: cell text read as Jupyter shows it, whatever the chunking
of the kernel's stream messages, and servers that start on a port of their own."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from kernels import cell_text, empty_outputs
from servers import AddressInUse, free_port, listens_on, running_server, wait_for_http


def stream(name: str, text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name=name, text=text)


def code_cell(*outputs: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("print('ROWS', 5)")
    cell.outputs = list(outputs)
    return cell


def test_split_stream_messages_read_as_one_text() -> None:
    """``print("ROWS", 5)`` sent as two stream messages (a flush in between, as on a loaded
    machine) reads as the line Jupyter shows."""
    split = code_cell(stream("stdout", "ROWS"), stream("stdout", " 5\n"))
    assert cell_text(split) == "ROWS 5\n"
    assert cell_text(split) == cell_text(code_cell(stream("stdout", "ROWS 5\n")))
    assert split.outputs[0]["text"] == "ROWS", "the cell itself is left as it is"


def test_only_consecutive_streams_of_one_name_join() -> None:
    cell = code_cell(
        stream("stdout", "a"),
        stream("stderr", "warn\n"),
        stream("stdout", "b"),
        stream("stdout", "c\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=1),
        stream("stdout", "d\n"),
    )
    assert cell_text(cell) == "a\nwarn\n\nbc\n\n42\nd\n"


def test_carriage_returns_show_what_is_left_on_the_line() -> None:
    cell = code_cell(stream("stderr", "10%\r"), stream("stderr", "100%\rdone\n"))
    assert cell_text(cell) == "done\n"


def test_the_options_keep_what_each_reader_needs() -> None:
    error = nbformat.v4.new_output(
        "error",
        ename="UsageError",
        evalue="no such pipeline",
        traceback=["\x1b[31mTraceback\x1b[0m"],
    )
    display = nbformat.v4.new_output(
        "display_data", data={"text/html": "<b>roles</b>", "text/plain": "roles"}
    )
    cell = code_cell(stream("stdout", "\x1b[1mbold\x1b[0m"), display, error)
    assert cell_text(cell) == "\x1b[1mbold\x1b[0m\nroles\nUsageError: no such pipeline"
    assert cell_text(cell, html=True) == (
        "\x1b[1mbold\x1b[0m\n<b>roles</b>\nroles\nUsageError: no such pipeline"
    )
    assert cell_text(cell, tracebacks=True, ansi=False) == (
        "bold\nroles\nUsageError: no such pipeline\nTraceback"
    )


def test_a_stream_split_into_empty_pieces_is_not_empty() -> None:
    assert empty_outputs(code_cell(stream("stdout", ""), stream("stdout", "shown\n"))) == []
    assert len(empty_outputs(code_cell(stream("stdout", " "), stream("stderr", "\n")))) == 2


def http_server(port: int) -> list[str]:
    return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]


@pytest.mark.slow
def test_a_server_runs_on_its_own_port_and_stops(tmp_path: Path) -> None:
    with running_server(http_server, "/", tmp_path / "first.log", cwd=tmp_path) as server:
        assert listens_on(server.process, server.port)
        assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.process.poll() is not None
    assert free_port() > 0


@pytest.mark.slow
def test_a_port_taken_by_another_server_is_never_taken_for_ours(tmp_path: Path) -> None:
    """A server whose port another process holds: it exits (address in use), and what answers
    on the port is not it; each attempt is stopped, and the start fails saying so."""
    with running_server(http_server, "/", tmp_path / "holder.log", cwd=tmp_path) as holder:

        def same_port(_port: int) -> list[str]:
            return http_server(holder.port)

        with (
            pytest.raises(AssertionError, match="no free port held in 2 attempts"),
            running_server(same_port, "/", tmp_path / "late.log", cwd=tmp_path, attempts=2),
        ):
            pytest.fail("the late server never held its port")
        assert listens_on(holder.process, holder.port)


@pytest.mark.slow
def test_a_server_that_exits_saying_the_address_is_in_use_is_told_apart(tmp_path: Path) -> None:
    import subprocess

    log = tmp_path / "exits.log"
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", "raise OSError(98, 'Address already in use')"],
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    process.wait(timeout=60)
    with pytest.raises(AddressInUse):
        wait_for_http(f"http://127.0.0.1:{port}/", process, log, timeout=60)


REFERENCE_NODES = """
def weigh(frame, weights, factor):
    return frame.assign(value=frame["x"] * weights["w"] * factor)
"""
REFERENCE_PIPELINES = """return {"flow": pipeline([
    node(nodes.weigh, ["rows", "weights", "params:factor"], "scored", name="weigh"),
])}"""
REFERENCE_CATALOG = """
weights:
  type: pickle.PickleDataset
  filepath: data/weights.pkl
"""


def test_the_reference_run_binds_the_frame_and_values_in_a_catalog_of_its_own(make_project) -> None:
    """``kedro_output``: Kedro's runner on a fresh catalog of the session, the frame bound to the
    data input, the parameters as the project sets them unless given; the project's catalog
    left as it was."""
    import pandas as pd
    from sessions import kedro_output, load_project

    root = make_project(
        REFERENCE_NODES, REFERENCE_PIPELINES, REFERENCE_CATALOG, parameters="factor: 10\n",
        pickles={"data/weights.pkl": {"w": 2}},
    )  # fmt: skip
    project = load_project(root)
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    assert kedro_output(project, "flow", "rows", frame)["value"].tolist() == [20.0, 40.0]
    overridden = kedro_output(project, "flow", "rows", frame, values={"params:factor": 1})
    assert overridden["value"].tolist() == [2.0, 4.0]
    assert project.catalog.load("params:factor") == 10 and "rows" not in project.catalog
