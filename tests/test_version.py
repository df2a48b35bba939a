"""The versions a bug report needs: ``__version__`` and ``python -m kedro_mlflow_magic --version``
say what the installed metadata says."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import version

import pytest

import kedro_mlflow_magic
from kedro_mlflow_magic.__main__ import main

REPORTED = ["kedro-mlflow-magic", "kedro", "kedro-datasets", "mlflow", "pandas", "numpy"]


def reported_versions(output: str) -> dict[str, str]:
    """``name version`` lines (the Python line also names the implementation) -> name: version."""
    return dict(line.split()[:2] for line in output.splitlines() if line.strip())


def expected_versions() -> dict[str, str]:
    return {"Python": platform.python_version(), **{name: version(name) for name in REPORTED}}


def test_dunder_version_is_the_installed_metadata_version() -> None:
    assert kedro_mlflow_magic.__version__ == version("kedro-mlflow-magic")


def test_version_option_prints_each_version_and_exits_0(capsys: pytest.CaptureFixture) -> None:
    assert main(["--version"]) == 0
    printed = reported_versions(capsys.readouterr().out)
    assert {name: printed.get(name) for name in expected_versions()} == expected_versions()


@pytest.mark.slow
def test_python_m_version_in_a_real_process_reports_the_installed_versions() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "kedro_mlflow_magic", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[0] == f"kedro-mlflow-magic {version('kedro-mlflow-magic')}"
    printed = reported_versions(finished.stdout)
    assert {name: printed.get(name) for name in expected_versions()} == expected_versions()
    assert printed["platform"]  # the operating system, for bugs that only show on one
