"""Our cells stay ours with heavy ML libraries (issue 29): a project whose node module writes to
file descriptor 2 when imported (as TensorFlow's C++ core does) and whose node draws a progress
bar, logs and writes to file descriptor 1 (as Keras does). What it prints during our magics is
held back, counted by node in the summary and kept in ``.printed``; ``--verbose`` shows it;
``%reload_kedro`` is one line; outside our magics Kedro logs as the project configures it."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from kernels import (
    THIRD_PARTY_NOISE,
    cell_starting,
    cell_text,
    code_notebook,
    empty_outputs,
    run_notebook,
)
from sessions import load_project

from kedro_mlflow_magic import prepare_pipeline
from kedro_mlflow_magic.held_output import held_back, shown

NODES = '''
import logging
import os
import sys

os.write(2, b"I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.\\n")
os.write(2, b"E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467] no cuFFT\\n")
print("the nodes module is imported")

logger = logging.getLogger(__name__)


def progress(total):
    """A progress bar drawn in place, as tqdm draws one."""
    for step in range(total + 1):
        sys.stderr.write(f"\\r{100 * step // total:3d}%|{'#' * step}{' ' * (total - step)}|")
        sys.stderr.flush()
    sys.stderr.write("\\n")


def fit_scale(rows, factor):
    progress(5)
    logger.warning("epoch 1/1 done")
    os.write(1, b"Epoch 1/1 - loss: 0.1\\n")
    return rows.assign(value=rows["value"] * factor)


def explode(rows):
    raise ValueError("no rows like these")
'''

PIPELINES = """
scale = pipeline([node(nodes.fit_scale, ["rows", "params:factor"], "scaled", name="fit_scale")])
broken = pipeline([node(nodes.explode, "rows", "never", name="explode")])
return {"scale": scale, "broken": broken, "__default__": scale}
"""

CATALOG = "rows:\n  type: pandas.CSVDataset\n  filepath: data/rows.csv\n"
ROWS = pd.DataFrame({"id": [1, 2], "value": [1.0, 2.0]})


@pytest.fixture
def noisy_root(make_project) -> Path:
    return make_project(
        NODES, PIPELINES, catalog=CATALOG, parameters="factor: 2\n",
        files={"data/rows.csv": "id,value\n1,1.0\n2,2.0\n"},
    )  # fmt: skip


def test_what_a_node_prints_is_held_under_its_name(noisy_root, capfd) -> None:
    project = load_project(noisy_root)
    prepared = prepare_pipeline(project.pipelines["scale"], project.catalog, "rows", ROWS)
    capfd.readouterr()
    with held_back() as held:
        print("a line of ours")  # outside any node: it passes
        assert prepared.sample_output["value"].tolist() == [2.0, 4.0]  # the reference run
    assert held.lines() == {"fit_scale": 3}
    bar, logged, written = held.text("fit_scale").splitlines()
    assert (bar, written) == ("100%|#####|", "Epoch 1/1 - loss: 0.1")
    assert logged.endswith("epoch 1/1 done")
    assert held.note().startswith("node 'fit_scale' printed 3 lines, held back (--verbose")
    printed = capfd.readouterr()
    assert printed.out == "a line of ours\n"
    assert "100%" not in printed.err and "epoch" not in printed.err


def test_shown_holds_nothing(noisy_root, capfd) -> None:
    project = load_project(noisy_root)
    prepared = prepare_pipeline(project.pipelines["scale"], project.catalog, "rows", ROWS)
    capfd.readouterr()
    with shown(), held_back() as held:
        prepared.sample_output  # noqa: B018 (the reference run)
    assert not held
    printed = capfd.readouterr()
    assert "Epoch 1/1 - loss: 0.1" in printed.out and "100%|#####|" in printed.err


def test_a_failing_node_in_a_magic_is_one_line_without_the_runner_s_lines(
    noisy_root, project_notebook, caplog
) -> None:
    from IPython.core.error import UsageError

    shell = project_notebook(load_project(noisy_root))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("kedro_log_model", "broken --input rows")
    assert str(caught.value) == "node 'explode' failed: ValueError: no rows like these"
    # Kedro's runner said nothing ("ERROR Node ... failed", "There are N nodes that have not run")
    assert not [record for record in caplog.records if record.name.startswith("kedro")]


CELLS = [
    "import logging\n%load_ext kedro_mlflow_magic",
    "%reload_kedro {root}",
    "list(pipelines)",
    "print('kedro logs at', logging.getLevelName(logging.getLogger('kedro').getEffectiveLevel()))",
    "info = %kedro_log_model scale --input rows",
    "print(info.printed)",
    "%kedro_log_model broken --input rows",
    "%kedro_predict --data catalog.load('rows')",
    "verbose_info = %kedro_log_model scale --input rows --verbose",
    "session.run()",
    "%reload_kedro --verbose {root}",
]


@pytest.mark.slow
def test_a_noisy_project_in_a_notebook(noisy_root, tmp_path) -> None:
    notebook = code_notebook(cell.format(root=noisy_root) for cell in CELLS)
    tracking = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    run_notebook(notebook, tmp_path, environment=tracking, allow_errors=True)

    def shown_by(start: str) -> str:
        return cell_text(cell_starting(notebook, start), html=True, ansi=False)

    assert shown_by("%reload_kedro /").strip() == (
        f"Loaded the Kedro project in {noisy_root}: session, context, catalog and pipelines "
        "are defined; its code printed 3 lines while loading, held back (%reload_kedro "
        "--verbose shows it)"
    )
    assert not empty_outputs(cell_starting(notebook, "list(pipelines)"))
    assert "'scale'" in shown_by("list(pipelines)")
    assert shown_by("print('kedro").strip() == "kedro logs at INFO"

    logged = shown_by("info = %kedro_log_model")
    # the nodes run more than once during a log (the reference run, the model's check)
    lines = re.search(r"node 'fit_scale' printed (\d+) lines, held back \(--verbose shows", logged)
    assert lines is not None and int(lines.group(1)) >= 6, logged
    assert "the result's .printed holds them" in logged
    for noise in ("oneDNN", "%|", "Epoch", "epoch 1/1"):
        assert noise not in logged, noise
    assert not THIRD_PARTY_NOISE.search(logged)
    assert not empty_outputs(cell_starting(notebook, "info = %kedro_log_model"))
    held = shown_by("print(info.printed)")
    assert f"--- node 'fit_scale': {lines.group(1)} lines ---" in held
    assert held.count("100%|#####|") >= 2 and held.count("Epoch 1/1 - loss: 0.1") >= 2

    failed = shown_by("%kedro_log_model broken")
    assert "UsageError: node 'explode' failed: ValueError: no rows like these" in failed
    assert "ERROR" not in failed and "have not run" not in failed
    assert "failed on the frame" not in failed

    predicted = shown_by("%kedro_predict")
    assert re.search(
        r"node 'fit_scale' printed \d+ lines?[^(]*, held back \(--verbose shows", predicted
    )
    assert "%|" not in predicted and "Epoch" not in predicted

    verbose = shown_by("verbose_info = %kedro_log_model")
    # (what a node writes to a file descriptor reaches the cell when the kernel forwards it,
    # maybe after the cell ended: not looked for)
    assert "100%|#####|" in verbose and "epoch 1/1 done" in verbose
    assert "held back" not in verbose

    ran = shown_by("session.run()")
    assert "Completed node: fit_scale" in ran  # Kedro's own INFO lines, as plain Kedro shows
    assert "register_new_resolver" not in ran and "deprecated" not in ran

    reloaded = shown_by("%reload_kedro --verbose")
    assert "the nodes module is imported" in reloaded  # (its fd writes: see above)
    assert "held back" not in reloaded


def test_a_stream_kept_after_the_call_writes_where_it_stood_for(capfd, monkeypatch) -> None:
    """A logging handler made during the call keeps the holding ``sys.stderr`` it saw: once
    the call ended, that stream writes where the real one does (here the process's own
    ``sys.stderr``, on file descriptor 2, whose saved copy is closed by then)."""
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    capfd.readouterr()
    with held_back():
        handler = logging.StreamHandler()  # its stream: sys.stderr during the call
    logger = logging.getLogger("kept_after_the_call")
    logger.addHandler(handler)
    try:
        logger.warning("after the call")
    finally:
        logger.removeHandler(handler)
    assert capfd.readouterr().err == "after the call\n"
