"""The supported range, tested: CI runs every session here (``.ci/run``, after the main suite).

- ``lowest-py3.10``: the oldest supported Python with every direct dependency at its declared floor
  (``uv pip install --resolution lowest-direct``): the fast subset and the serving tests.
- ``newest-py3.10`` and ``newest-py3.13``: the oldest and the newest supported Python with the newest
  dependencies: the fast subset.
- ``wheel``: builds the sdist and the wheel, checks them, installs the wheel (not editable) into a
  fresh environment and runs the demo from a folder outside the repository.

Environments are made by uv, which shares one download cache between them. Interpreters come from
pyenv (``$(pyenv root)/versions/3.X.*``) or else from ``uv python find``; nothing is downloaded.
Run one with ``nox -s NAME``; ``nox -l`` lists them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nox

ROOT = Path(__file__).parent.resolve()
PACKAGE = "kedro_mlflow_magic"
OLDEST_PYTHON, NEWEST_PYTHON = "3.10", "3.13"
WHEEL_PYTHON = "3.12"  # the one supported Python the other sessions leave out
FAST = ("-m", "not slow")

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "no"


def find_python(minor: str) -> str:
    """The path of the newest installed CPython ``minor`` (e.g. "3.10"): pyenv's first, else what
    ``uv python find`` sees without downloading. When neither has it, ``minor`` itself, so that nox
    fails saying that this interpreter is missing."""
    pattern = re.compile(rf"{re.escape(minor)}\.(\d+)")
    roots = [os.environ.get("PYENV_ROOT", "")]
    if shutil.which("pyenv"):
        found = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
        roots.append(found.stdout.strip())
    roots.append(str(Path.home() / ".pyenv"))
    for root in filter(None, roots):
        installed = []
        for version in (Path(root) / "versions").glob(f"{minor}.*"):
            match = pattern.fullmatch(version.name)  # 3.13.0, not 3.13.0t or 3.13-dev
            executable = version / "bin" / f"python{minor}"
            if match and executable.is_file():
                installed.append((int(match.group(1)), executable))
        if installed:
            return str(max(installed)[1])
    found = subprocess.run(
        ["uv", "python", "find", "--no-python-downloads", "--system", minor],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() if found.returncode == 0 else minor


def uv_environment() -> dict[str, str]:
    """uv reads neither pip.conf nor PIP_* variables: give it the index and the certificates pip is
    configured with, if any (else PyPI and the system's), and never let it download a Python."""
    environment = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    settings = {}
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    )
    for line in listed.stdout.splitlines():  # e.g. global.index-url='https://...'
        key, _, value = line.partition("=")
        settings[key.rsplit(".", 1)[-1]] = value.strip().strip("'\"")
    index = os.environ.get("PIP_INDEX_URL") or settings.get("index-url")
    if index and "UV_DEFAULT_INDEX" not in os.environ and "UV_INDEX_URL" not in os.environ:
        environment["UV_DEFAULT_INDEX"] = index
    certificates = os.environ.get("PIP_CERT") or settings.get("cert")
    if certificates and "SSL_CERT_FILE" not in os.environ:
        environment["SSL_CERT_FILE"] = certificates
    return environment


os.environ.update(uv_environment())  # nox runs uv in this process's environment
TEST_ENVIRONMENT = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


def show_versions(session: nox.Session, label: str) -> None:
    """Print the combination under test: the session, its resolution and the versions installed."""
    session.log(f"combination: session {session.name}, {label}")
    session.run("python", "-m", PACKAGE, "--version", env=TEST_ENVIRONMENT)


def run_tests(session: nox.Session, label: str, *pytest_args: str) -> None:
    """pytest with the main suite's options; a failure names the session and its combination."""
    show_versions(session, label)
    try:
        session.run(
            "python", "-m", "pytest", "-p", "no:cacheprovider", *pytest_args, env=TEST_ENVIRONMENT
        )
    except nox.command.CommandFailed:
        session.error(f"FAILED combination: nox session {session.name} ({label})")


@nox.session(name=f"lowest-py{OLDEST_PYTHON}", python=find_python(OLDEST_PYTHON))
def lowest(session: nox.Session) -> None:
    """Python 3.10, lowest-direct resolution: the fast subset, then the serving tests.

    Every direct dependency (the package's and the test tools') is at its declared floor, the
    rest at the newest they allow."""
    session.install("--resolution", "lowest-direct", "-e", ".[dev]")
    label = f"Python {OLDEST_PYTHON}, lowest-direct resolution"
    run_tests(session, label, *FAST)
    run_tests(session, label, "tests/test_serving.py")


def newest(session: nox.Session, python: str) -> None:
    # The resolver skips MLflow 3.18.0 by itself here (its mlflow-skinny 3.18.0 is not published),
    # so no cap is needed: the versions printed first say which MLflow was really tested.
    session.install("-e", ".[dev]")
    run_tests(session, f"Python {python}, newest dependencies", *FAST)


@nox.session(name=f"newest-py{OLDEST_PYTHON}", python=find_python(OLDEST_PYTHON))
def newest_on_oldest_python(session: nox.Session) -> None:
    """Python 3.10, newest dependencies: the fast subset."""
    newest(session, OLDEST_PYTHON)


@nox.session(name=f"newest-py{NEWEST_PYTHON}", python=find_python(NEWEST_PYTHON))
def newest_on_newest_python(session: nox.Session) -> None:
    """Python 3.13, newest dependencies: the fast subset."""
    newest(session, NEWEST_PYTHON)


def repository_files() -> list[str]:
    """The files a fresh clone has (git's list of tracked files that exist); outside a git
    checkout, every file less caches, environments and build output."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if listed.returncode == 0 and listed.stdout:
        names = [name for name in listed.stdout.split("\0") if name]
        return [name for name in names if (ROOT / name).is_file()]
    skipped = {".git", ".nox", ".venv", "__pycache__", "build", "dist", "mlruns", "mlartifacts"}
    return [
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*")
        if path.is_file()
        and not skipped.intersection(path.relative_to(ROOT).parts)
        and not any(part.endswith(".egg-info") for part in path.parts)
    ]


def clean_copy(destination: Path) -> Path:
    """The repository's files copied alone into ``destination``. Building in the working tree
    would not do: the ``*.egg-info/SOURCES.txt`` that ``pip install -e .`` leaves there puts into
    the sdist (and so into the wheel) files that the package configuration forgets."""
    shutil.rmtree(destination, ignore_errors=True)
    for name in repository_files():
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination / name)
    return destination


def check_wheel_contents(session: nox.Session, wheel: Path) -> None:
    """The wheel holds exactly the package's files: every module, the demo project with its dot
    files, the model runtime; no caches and nothing the repository does not have."""
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if name.startswith(f"{PACKAGE}/")}
    expected = {name for name in repository_files() if name.startswith(f"{PACKAGE}/")}
    expected |= {f"{PACKAGE}/demo/project/data/01_raw/.gitkeep"}
    missing, unexpected = sorted(expected - shipped), sorted(shipped - expected)
    if missing or unexpected:
        session.error(
            f"FAILED: {wheel.name} is missing {missing or 'nothing'} and has unexpected "
            f"{unexpected or 'nothing'}"
        )
    session.log(f"{wheel.name}: all {len(expected)} package files, nothing else")


@nox.session(python=find_python(WHEEL_PYTHON))
def wheel(session: nox.Session) -> None:
    """Python 3.12, newest dependencies, the built wheel: the demo, outside the repository.

    Builds the sdist and the wheel (from the sdist), checks them with twine and the wheel's files,
    installs the wheel (not editable) into a fresh environment and runs the demo in a folder
    outside the repository."""
    work = Path(session.create_tmp()).resolve()
    source, dist = clean_copy(work / "source"), work / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    # build and twine run from nox's own environment, so that the fresh one holds only the wheel
    # and what it declares: a dependency used but not declared fails the demo below.
    build = [sys.executable, "-m", "build", "--outdir", str(dist), str(source)]
    session.run(*build, external=True, silent=True)
    built = sorted(dist.iterdir())
    session.run(sys.executable, "-m", "twine", "check", "--strict", *map(str, built), external=True)
    (wheel_file,) = dist.glob("*.whl")
    check_wheel_contents(session, wheel_file)
    session.install(f"kedro-mlflow-magic[demo] @ {wheel_file.as_uri()}")

    outside = Path(tempfile.mkdtemp(prefix="kedro-mlflow-magic-wheel-"))
    session.chdir(outside)
    label = f"Python {WHEEL_PYTHON}, the built wheel, newest dependencies"
    show_versions(session, label)
    where = session.run(
        "python", "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)", silent=True
    ).strip()
    if not Path(where).is_relative_to(Path(session.virtualenv.location).resolve()):
        session.error(f"FAILED: {PACKAGE} was imported from {where}, not from the installed wheel")
    session.log(f"{PACKAGE} imported from {where}")
    session.run("kedro-mlflow-magic", "--version", env=TEST_ENVIRONMENT)
    try:
        session.run("python", "-m", PACKAGE, "demo", "demo project", env=TEST_ENVIRONMENT)
    except nox.command.CommandFailed:
        session.error(f"FAILED combination: nox session {session.name} ({label}): the demo")
    session.chdir(ROOT)
    shutil.rmtree(outside, ignore_errors=True)
