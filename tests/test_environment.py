"""Will it serve where it ships (docs/explanation/behaviour.md#will-it-serve-where-it-ships): the
model predicts its input example in a real uv environment built from its own requirements alone,
kept in the user's cache between tests and runs (so CI builds each environment once), and is
compared with this environment's answer."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
from sessions import LoadedProject, load_project

from kedro_mlflow_magic import check_environment, log_pipeline_model
from kedro_mlflow_magic.errors import EnvironmentCheckError
from kedro_mlflow_magic.verify.environment_check import (
    READY_MARKER,
    EnvironmentCheck,
    build_failure,
    environments_root,
    probe_failure,
)
from kedro_mlflow_magic.verify.environment_probe import missing_module

BIN = Path(sys.executable).parent

# A node that imports a package by a name made at call time: no scan can read it, so the
# model's requirements miss it unless it is added by hand (sortedcontainers is installed here,
# by the dev extra's hypothesis, and is no dependency of the model's own requirements).
CALL_TIME_NODES = """\
import importlib
import importlib.util


def rank(frame):
    sorted_list = importlib.import_module("sorted" + "containers").SortedList
    ranks = sorted_list(frame["value"])
    return frame.assign(rank=[ranks.index(value) for value in frame["value"]])


def where(frame):
    # answers differently where the plugin is missing: True here, False in a fresh environment
    found = importlib.util.find_spec("sorted" + "containers") is not None
    return frame.assign(plugin=[found] * len(frame))
"""
PIPELINES = """\
return {
    "rank": pipeline([node(nodes.rank, "frame", "ranked")]),
    "where": pipeline([node(nodes.where, "frame", "located")]),
}
"""
SAMPLE = pd.DataFrame({"value": [3.0, 1.0, 2.0]})
PLUGIN = "sortedcontainers"


@pytest.fixture
def plugin_project(make_project) -> LoadedProject:
    return load_project(make_project(nodes=CALL_TIME_NODES, pipelines=PIPELINES))


def logged(project: LoadedProject, pipeline: str, **options) -> str:
    info = log_pipeline_model(
        project.pipelines[pipeline], project.catalog, "frame", SAMPLE, **options
    )
    return info.model_uri


@pytest.mark.slow
def test_a_package_imported_at_call_time_is_one_line_naming_it_and_requirement_fixes_it(
    plugin_project: LoadedProject,
) -> None:
    with pytest.raises(EnvironmentCheckError) as raised:
        check_environment(logged(plugin_project, "rank"))
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(
        f"the model needs the package '{PLUGIN}' (it imports '{PLUGIN}'), which its "
        "requirements do not list: predicting its input example failed"
    )
    assert message.endswith(f"--requirement {PLUGIN} (extra_requirements=['{PLUGIN}'])")

    model_uri = logged(plugin_project, "rank", extra_requirements=[PLUGIN])
    checked = check_environment(model_uri)
    assert isinstance(checked, EnvironmentCheck) and checked.agree, checked
    assert checked.detail == "all 3 rows agree" and checked.differing_rows is None
    assert checked.packages[PLUGIN] == version(PLUGIN)
    assert checked.packages["mlflow"] == version("mlflow")
    assert checked.python == platform.python_version()
    assert checked.environment.is_relative_to(environments_root())
    assert (checked.environment / READY_MARKER).is_file()

    again = check_environment(model_uri)  # the same requirements: the environment is reused
    assert again.cached and again.agree and again.environment == checked.environment
    assert "agrees in a fresh uv environment of its requirements: all 3 rows agree" in str(again)
    assert "environment reused" in again.headline


@pytest.mark.slow
def test_an_answer_that_differs_there_shows_the_first_differing_rows(
    plugin_project: LoadedProject,
) -> None:
    checked = check_environment(logged(plugin_project, "where"))
    assert not checked.agree and checked.detail == "3 of 3 rows differ"
    rows = checked.differing_rows
    assert rows is not None
    assert rows[("there", "plugin")].tolist() == [False] * 3
    assert rows[("here", "plugin")].tolist() == [True] * 3
    text = str(checked)
    assert text.startswith("environment check   DIFFERS in a fresh uv environment")
    assert "first rows that differ:" in text
    assert "DIFFERS" in checked._repr_html_() and "<table" in checked._repr_html_()


@pytest.mark.slow
def test_an_environment_left_half_built_is_built_again(plugin_project: LoadedProject) -> None:
    """A check killed while installing leaves a folder without the marker; MLflow alone would
    take it as it is."""
    model_uri = logged(plugin_project, "rank", extra_requirements=[PLUGIN])
    first = check_environment(model_uri)
    (first.environment / READY_MARKER).unlink()
    (first.environment / "bin" / "python").unlink()  # broken, as a half-built one may be
    rebuilt = check_environment(model_uri)
    assert not rebuilt.cached and rebuilt.agree
    assert (rebuilt.environment / READY_MARKER).is_file()


@pytest.mark.slow
def test_a_requirement_that_cannot_be_installed_is_one_line_with_uvs_reason(
    plugin_project: LoadedProject,
) -> None:
    model_uri = logged(plugin_project, "rank", extra_requirements=["sortedcontainers==0.0.1"])
    with pytest.raises(EnvironmentCheckError) as raised:
        check_environment(model_uri)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(
        "building the model's environment from its requirements failed: Because there is no "
        "version of sortedcontainers==0.0.1"
    ), message
    assert message.endswith("--requirement PACKAGE==VERSION (extra_requirements=[...])")


CONCURRENT_CHECK = """\
import json, sys
from kedro_mlflow_magic import check_environment
checked = check_environment(sys.argv[1])
print(json.dumps({"agree": checked.agree, "cached": checked.cached}))
"""


@pytest.mark.slow
def test_concurrent_checks_build_one_environment_and_both_use_it(
    plugin_project: LoadedProject, tmp_path: Path
) -> None:
    """Two processes checking the same model in an empty cache: one builds, the other waits
    for it (a file lock per environment) and reuses it."""
    model_uri = logged(plugin_project, "rank", extra_requirements=[PLUGIN])
    environment = {
        **os.environ,
        "KEDRO_MLFLOW_MAGIC_ENVS": str(tmp_path / "envs"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_CHECK, model_uri],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    answers = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
        answers.append(json.loads(stdout.strip().splitlines()[-1]))
    assert all(answer["agree"] for answer in answers)
    assert sorted(answer["cached"] for answer in answers) == [False, True]
    built = list((tmp_path / "envs" / "virtualenv_envs").iterdir())
    assert len(built) == 1 and (built[0] / READY_MARKER).is_file()


def shell(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "kedro-mlflow-magic"), *arguments], cwd=cwd, capture_output=True, text=True,
        timeout=600, env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
    )  # fmt: skip


@pytest.mark.slow
def test_the_shell_logs_with_requirement_and_check_exits_1_when_the_model_fails_there(
    make_project, tmp_path: Path
) -> None:
    root = make_project(nodes=CALL_TIME_NODES, pipelines=PIPELINES)
    sample = tmp_path / "sample.csv"
    SAMPLE.to_csv(sample, index=False)
    uris = {}
    for label, extra in (("without", []), ("with", ["--requirement", PLUGIN])):
        finished = shell(
            "log", "rank", "--input", "frame", "--sample", str(sample), *extra,
            "--project", str(root), cwd=tmp_path,
        )  # fmt: skip
        assert finished.returncode == 0, finished.stderr[-3000:]
        uris[label] = finished.stdout.split()[2]  # "model URI  models:/m-..."
        assert uris[label].startswith("models:/")

    failed = shell("check", uris["without"], "--project", str(root), cwd=tmp_path)
    assert failed.returncode == 1
    lines = [line for line in failed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith(f"Error: the model needs the package '{PLUGIN}'")
    assert f"--requirement {PLUGIN}" in lines[0]

    passed = shell("check", uris["with"], "--project", str(root), cwd=tmp_path)
    assert passed.returncode == 0, passed.stderr[-3000:]
    assert "agrees in a fresh uv environment of its requirements" in passed.stdout
    assert f"{PLUGIN} {version(PLUGIN)}" in passed.stdout


@pytest.mark.slow
def test_log_model_check_env_puts_the_check_in_the_summary(
    ipython_shell, make_project, tmp_path: Path
) -> None:
    ipython = ipython_shell
    ipython.run_line_magic("load_ext", "kedro_mlflow_magic")
    root = make_project(nodes=CALL_TIME_NODES, pipelines=PIPELINES)
    ipython.run_line_magic("reload_kedro", str(root))
    ipython.user_ns["sample"] = SAMPLE
    failing = ipython.run_line_magic(
        "kedro_log_model", "rank --input frame --sample sample --check-env"
    )
    text = str(failing)
    assert f"environment   FAILED: the model needs the package '{PLUGIN}'" in text, text
    fixed = ipython.run_line_magic(
        "kedro_log_model", f"rank --input frame --sample sample --requirement {PLUGIN} --check-env"
    )
    text = str(fixed)
    assert "environment   agrees in a fresh uv environment of its requirements" in text, text
    assert fixed.logged.environment_check.packages[PLUGIN] == version(PLUGIN)


# --- the one-line failures, from what the environment said ----------------------------------


def test_a_missing_module_names_its_distribution_and_the_fix() -> None:
    report = {"stage": "loading the model", "missing_module": "sklearn.linear_model"}
    assert str(probe_failure(report)) == (
        "the model needs the package 'scikit-learn' (it imports 'sklearn.linear_model'), which "
        "its requirements do not list: loading the model failed in a fresh environment of "
        "them; log it again with --requirement scikit-learn (extra_requirements=['scikit-learn'])"
    )
    other = probe_failure(
        {"stage": "predicting its input example", "error": "ValueError: bad\ninput"}
    )
    assert str(other).startswith(
        "predicting its input example failed in a fresh environment of the model's "
        "requirements: ValueError: bad input; if a package there behaves differently, pin it"
    )


def test_a_module_not_found_is_found_inside_the_errors_that_wrap_it() -> None:
    try:
        try:
            import no_such_module_kmm  # noqa: F401
        except ModuleNotFoundError as error:
            raise RuntimeError("failed to load the model") from error
    except RuntimeError as wrapped:
        assert missing_module(wrapped) == "no_such_module_kmm"
    assert missing_module(ValueError("No module named 'plugins.x'")) == "plugins.x"
    assert missing_module(ValueError("something else")) is None


UV_NO_SOLUTION = """\
Failed to run command: uv pip install -r requirements.txt
  \u00d7 No solution found when resolving dependencies:
  ╰─▶ Because there is no version of pandas==0.0.1 and you require pandas==0.0.1, we can
      conclude that your requirements are unsatisfiable.
"""


UV_NO_SOLUTION_PIPED = """\
STDERR:
error: No solution found when resolving dependencies
  cause: Because there is no version of pandas==0.0.1 and you require pandas==0.0.1, we can conclude that your requirements are unsatisfiable.
"""


@pytest.mark.parametrize("said", [UV_NO_SOLUTION, UV_NO_SOLUTION_PIPED], ids=["tty", "piped"])
def test_an_environment_that_cannot_be_built_is_one_line_with_uvs_reason(said: str) -> None:
    message = str(build_failure(RuntimeError(said)))
    assert message.startswith(
        "building the model's environment from its requirements failed: Because there is no "
        "version of pandas==0.0.1"
    )
    assert "\n" not in message and "--requirement PACKAGE==VERSION" in message


def test_an_unknown_env_manager_is_refused_and_the_cache_follows_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(EnvironmentCheckError, match="env_manager 'conda' is not one of uv, "):
        check_environment("models:/m-1", env_manager="conda")
    monkeypatch.setenv("KEDRO_MLFLOW_MAGIC_ENVS", str(tmp_path))
    assert environments_root() == tmp_path
    monkeypatch.delenv("KEDRO_MLFLOW_MAGIC_ENVS")
    assert environments_root().parts[-2:] == ("kedro-mlflow-magic", "envs")


def test_a_missing_env_manager_tool_is_one_line_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kedro_mlflow_magic.verify.environment_check import env_manager_on_path

    monkeypatch.setenv("PATH", str(tmp_path))  # neither pyenv nor uv there
    with (
        pytest.raises(EnvironmentCheckError, match=r"need pyenv .*--env-manager uv"),
        env_manager_on_path("virtualenv"),
    ):
        pass
    with env_manager_on_path("uv"):  # uv beside this interpreter (the dev extra) goes on PATH
        assert os.environ["PATH"].split(os.pathsep)[0] == str(BIN)
    assert os.environ["PATH"] == str(tmp_path)
