"""Every shell command's exit code is what its help says: 0 when it did what was asked (``check``:
the model agrees), 1 for a failure (``check``: the model fails or answers differently in a fresh
environment of its requirements), 2 for a mistake in the command line or the project. Each path
runs the real console script (and the Kedro project command for ``check``) in a subprocess; the
paths of ``inputs``, ``log`` and ``predict`` on a project are in test_cli and test_project_env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sessions import tool_environment

from kedro_mlflow_magic import log_pipeline_model
from kedro_mlflow_magic.cli import main
from kedro_mlflow_magic.project import open_project

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
NODES = """\
import importlib.util


def double(frame):
    return frame.assign(doubled=frame["value"] * 2)


def where(frame):
    # True here, False in a fresh environment of the model's requirements (which lack it)
    found = importlib.util.find_spec("sorted" + "containers") is not None
    return frame.assign(plugin=[found] * len(frame))
"""
PIPELINES = """\
return {
    "double": pipeline([node(nodes.double, "frame", "doubled")]),
    "where": pipeline([node(nodes.where, "frame", "located")]),
}
"""
SAMPLE = pd.DataFrame({"value": [3.0, 1.0, 2.0]})


def shell(arguments: list[str], cwd: Path, **environment: str) -> subprocess.CompletedProcess:
    env = tool_environment(**environment)
    return subprocess.run(arguments, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        (["--version"], 0),
        (["--help"], 0),
        (["check", "--help"], 0),
        ([], 2),  # no command: the help, and 2
        (["nope"], 2),
        (["log"], 2),  # no PIPELINE
        (["log", "inference", "--example-rows", "many"], 2),
        (["predict", "models:/m-0123", "--data", "missing.csv"], 2),
        (["predict", "models:/m-0123", "--data", "frame.txt"], 2),
        (["check", "models:/m-0123", "--env-manager", "conda"], 2),
        (["inputs", "inference", "--env", "prod"], 2),  # no project here
        (["demo", "a_file"], 2),  # a file where the project's folder would go
    ],
)
def test_the_exit_code_of_each_mistake_and_of_help(
    arguments: list[str], code: int, tmp_path: Path
) -> None:
    (tmp_path / "a_file").write_text("not a folder")
    finished = shell([str(BIN / "kedro-mlflow-magic"), *arguments], tmp_path)
    assert finished.returncode == code, finished.stdout[-2000:] + finished.stderr[-2000:]
    if code == 2 and arguments:
        errors = [line for line in finished.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith("Error: "), finished.stderr


def test_main_returns_the_code_click_returns_for_an_exit(tmp_path: Path) -> None:
    """``main`` runs click without its standalone mode, where click 8.5 returns (not raises)
    the code of an ``Exit``: ``--version`` exits 0 that way, and a help too."""
    assert main(["--version"]) == 0
    assert main(["check", "--help"]) == 0


def test_check_exits_0_when_the_model_agrees_and_1_when_it_answers_differently(
    make_project, tmp_path: Path
) -> None:
    root = make_project(NODES, PIPELINES)
    with open_project(root) as opened:
        agrees, differs = (
            log_pipeline_model(
                opened.pipeline(name), opened.catalog, "frame", SAMPLE,
                project=opened.description,
            ).model_uri
            for name in ("double", "where")
        )  # fmt: skip
    store = os.environ["MLFLOW_TRACKING_URI"]
    script = [str(BIN / "kedro-mlflow-magic"), "check"]
    agreed = shell([*script, agrees], tmp_path, MLFLOW_TRACKING_URI=store)
    assert agreed.returncode == 0, agreed.stderr[-3000:]
    differed = shell([*script, differs], tmp_path, MLFLOW_TRACKING_URI=store)
    assert differed.returncode == 1, differed.stderr[-3000:]
    assert differed.stdout.strip(), "the comparison is printed before the exit code"
    # the Kedro project command (click's standalone mode) exits alike
    kedro = shell([str(BIN / "kedro"), "mlflow-magic", "check", differs], root,
                  MLFLOW_TRACKING_URI=store)  # fmt: skip
    assert kedro.returncode == 1, kedro.stderr[-3000:]
    unknown = shell([*script, "models:/m-0123456789abcdef"], tmp_path, MLFLOW_TRACKING_URI=store)
    assert unknown.returncode == 2, unknown.stderr[-3000:]
