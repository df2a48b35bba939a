"""Will the model serve where it ships? ``check_environment`` predicts a model's input
example in a fresh environment built from the model's own requirements alone, with MLflow's
environment machinery (uv or virtualenv, as ``mlflow models serve`` builds it), and compares the
answer with this environment's (docs/explanation/behaviour.md#will-it-serve-where-it-ships).

Environments are kept in the user's cache (``~/.cache/kedro-mlflow-magic/envs`` on Linux),
named by MLflow from a hash of the model's Python version and requirements, so a model whose
requirements did not change reuses its environment. A file lock per environment keeps
concurrent checks from building the same one twice or using it half built.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kedro_mlflow_magic import compat
from kedro_mlflow_magic.build.requirements import distribution_of, requirement_name
from kedro_mlflow_magic.display import Summary
from kedro_mlflow_magic.display.checks import environment_html, environment_text
from kedro_mlflow_magic.errors import EnvironmentCheckError, one_line
from kedro_mlflow_magic.quiet import quiet_third_party
from kedro_mlflow_magic.verify.code_check import include_for_model
from kedro_mlflow_magic.verify.parity import compare_results

if TYPE_CHECKING:
    from kedro_mlflow_magic.build.logged import LoggedModel

ENV_MANAGERS = ("uv", "virtualenv")
CACHE_APP = "kedro-mlflow-magic"
# written into an environment once MLflow finished building it: a folder without it was left
# half built (a check killed while installing) and is built again
READY_MARKER = ".kedro-mlflow-magic-ready"
PROBE = Path(__file__).with_name("environment_probe.py")


def environments_root() -> Path:
    """Where the model environments are kept: ``KEDRO_MLFLOW_MAGIC_ENVS`` when set, else the
    user's cache folder (``platformdirs``)."""
    configured = os.environ.get("KEDRO_MLFLOW_MAGIC_ENVS")
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(CACHE_APP)) / "envs"


@dataclass(repr=False)
class EnvironmentCheck(Summary):
    """What the model answered in a fresh environment of its own requirements, against what it
    answers here: ``agree`` (with ``detail`` and the first ``differing_rows``), that
    environment's ``python`` and the versions of the model's requirements there
    (``packages``), ``seconds`` taken (``build_seconds`` of them building the environment;
    ``cached`` when it was reused)."""

    model_uri: str
    env_manager: str
    agree: bool
    detail: str
    python: str
    packages: dict[str, str]
    seconds: float
    build_seconds: float
    cached: bool
    environment: Path
    differing_rows: pd.DataFrame | None = None
    installed: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.agree

    @property
    def headline(self) -> str:
        verdict = "agrees" if self.agree else "DIFFERS"
        built = "reused" if self.cached else f"built in {self.build_seconds:.1f} s"
        return (
            f"{verdict} in a fresh {self.env_manager} environment of its requirements: "
            f"{self.detail} (Python {self.python}, {len(self.installed)} packages; "
            f"environment {built}; {self.seconds:.1f} s)"
        )

    def summary_text(self) -> str:
        return environment_text(self)

    def summary_html(self) -> str:
        return environment_html(self)


@contextlib.contextmanager
def env_manager_on_path(env_manager: str) -> Iterator[None]:
    """MLflow runs ``uv`` (or ``pyenv`` for virtualenv) from ``PATH``. A venv used without
    being activated has its ``uv`` beside the interpreter only: that folder is put on ``PATH``
    for the duration. Missing altogether: one line with the fix."""
    if env_manager == "virtualenv" and not shutil.which("pyenv"):
        raise EnvironmentCheckError(
            "MLflow's virtualenv environments need pyenv (it installs the model's Python), "
            "which is not on PATH; install pyenv, or check with --env-manager uv "
            "(env_manager='uv')"
        )
    if env_manager != "uv" or shutil.which("uv"):
        yield
        return
    beside = Path(sys.executable).parent
    if not (beside / "uv").exists():
        raise EnvironmentCheckError(
            "uv is not installed, so the model's environment cannot be built with it; "
            "pip install uv, or check with --env-manager virtualenv (env_manager='virtualenv')"
        )
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{beside}{os.pathsep}{before}"
    try:
        yield
    finally:
        os.environ["PATH"] = before


# What uv puts before the reason of an error: on a terminal, and piped
UV_REASON_PREFIXES = ("╰─▶", "cause:", "Caused by:")


def reason_of(line: str) -> str:
    line = line.strip()
    for prefix in UV_REASON_PREFIXES:
        line = line.removeprefix(prefix).strip()
    return line


def build_failure(error: Exception) -> EnvironmentCheckError:
    """One line from what uv or pip said when the environment could not be built: why it found
    no solution (uv's "Because ..." line), else its first ``error:`` line, else its last."""
    lines = [reason_of(line) for line in str(error).splitlines()]
    lines = [line for line in lines if line]
    said = next((line for line in lines if line.startswith("Because")), None)
    said = said or next((line for line in lines if line.lower().startswith("error")), None)
    if said is None:
        said = lines[-1] if lines else type(error).__name__
    return EnvironmentCheckError(
        f"building the model's environment from its requirements failed: {one_line(said)}; "
        "fix or pin the requirement it names and log the model again with "
        "--requirement PACKAGE==VERSION (extra_requirements=[...])"
    )


def prepared_environment(model_folder: Path, env_manager: str, root: Path) -> tuple[Any, bool]:
    """MLflow's environment for the model, built or reused from the cache, under a lock of its
    own; and whether it was reused."""
    from filelock import FileLock

    folder = compat.model_environment_folder(model_folder, root)
    (root / "locks").mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / "locks" / f"{folder.name}.lock")):
        cached = (folder / READY_MARKER).is_file()
        if folder.exists() and not cached:
            shutil.rmtree(folder)  # left half built: MLflow would take it as it is
        try:
            with env_manager_on_path(env_manager):
                environment = compat.prepare_model_environment(model_folder, env_manager, root)
        except EnvironmentCheckError:
            raise
        except Exception as error:
            raise build_failure(error) from None
        (folder / READY_MARKER).write_text("built by kedro_mlflow_magic.check_environment\n")
    return environment, cached


def run_probe(environment: Any, model_folder: Path, scratch: Path) -> dict[str, Any]:
    """Run ``environment_probe.py`` in the model's environment; its report."""
    report_file = scratch / "report.json"
    command = (
        f"python -I {shlex.quote(str(PROBE))} {shlex.quote(str(model_folder))} "
        f"{shlex.quote(str(report_file))}"
    )
    variables = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    try:
        environment.execute(command, command_env=variables, capture_output=True)
    except Exception as error:
        raise EnvironmentCheckError(
            "the model's environment could not run Python: "
            f"{one_line(str(error))[-300:]}; delete {environments_root()} and check again"
        ) from None
    return json.loads(report_file.read_text(encoding="utf-8"))


def probe_failure(
    report: dict[str, Any], model_folder: Path | None = None
) -> EnvironmentCheckError:
    """The one line for a model that failed to load or predict in its environment: the package
    it could not import and the fix (the ``include`` of a module of the project, else the
    requirement), or the error."""
    stage = report.get("stage", "loading the model")
    module = report.get("missing_module")
    path = include_for_model(module, model_folder) if module and model_folder else None
    if path is not None:
        return EnvironmentCheckError(
            f"the model needs the project's module '{module}', which it does not ship: {stage} "
            f"failed in a fresh environment of its requirements; log it again with "
            f"include=['{path}'] (--include {path})"
        )
    if module:
        top = module.split(".")[0]
        package = distribution_of(top) or top
        return EnvironmentCheckError(
            f"the model needs the package '{package}' (it imports '{module}'), which its "
            f"requirements do not list: {stage} failed in a fresh environment of them; log "
            f"it again with --requirement {package} (extra_requirements=['{package}'])"
        )
    return EnvironmentCheckError(
        f"{stage} failed in a fresh environment of the model's requirements: "
        f"{one_line(report.get('error', ''))[:500]}; if a package there behaves differently, "
        "pin it: log again with --requirement PACKAGE==VERSION"
    )


def answers_frame(predictions: Any) -> Any:
    """A server's ``predictions`` as a frame to compare (records, values or rows), or as they
    are (a dict, a scalar)."""
    if isinstance(predictions, list):
        return pd.DataFrame(predictions)
    return predictions


def answer_here(model_folder: Path) -> Any:
    """The model's answer to its input example in this environment, in the form the probe
    reports it (a server's JSON)."""
    import mlflow
    from mlflow.models import Model
    from mlflow.pyfunc.scoring_server import predictions_to_json

    model = mlflow.pyfunc.load_model(str(model_folder), suppress_warnings=True)
    example = Model.load(str(model_folder)).load_input_example(str(model_folder))
    if example is None:
        raise EnvironmentCheckError(
            "the model has no input example to predict in its environment; log it with one "
            "(every model %kedro_log_model logs has one)"
        )
    answer = io.StringIO()
    predictions_to_json(model.predict(example), answer)
    return json.loads(answer.getvalue())["predictions"]


def requirement_versions(model_folder: Path, installed: dict[str, str]) -> dict[str, str]:
    """Each of the model's requirements and the version installed in its environment."""
    from packaging.utils import canonicalize_name

    there = {canonicalize_name(name): version for name, version in installed.items()}
    versions = {}
    path = model_folder / "requirements.txt"
    for line in path.read_text().splitlines() if path.is_file() else []:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name = requirement_name(line)
            versions[name] = there.get(name, "not installed")
    return versions


def check_environment(model_uri: str, *, env_manager: str = "uv") -> EnvironmentCheck:
    """Build (or reuse from the cache) an environment from the model's requirements only, with
    MLflow's environment machinery; load the model there and predict its input example; and
    compare with the answer of this environment.

    Returns the ``EnvironmentCheck`` (agree or differ). ``EnvironmentCheckError``, one line,
    when the model cannot load or predict there: the package it could not import and the fix
    (``--requirement PACKAGE``), or the error; or when the environment cannot be built.
    A ``models:/`` or ``runs:/`` URI is found in MLflow's tracking store (the one a log or the
    shell command's ``--project`` points MLflow at).
    """
    if env_manager not in ENV_MANAGERS:
        raise EnvironmentCheckError(
            f"env_manager {env_manager!r} is not one of {', '.join(ENV_MANAGERS)}"
        )
    import mlflow

    started = time.perf_counter()
    root = environments_root()
    with (
        quiet_third_party(),
        tempfile.TemporaryDirectory(prefix="kedro-mlflow-magic-check-") as scratch_folder,
    ):
        scratch = Path(scratch_folder)
        model_folder = Path(
            mlflow.artifacts.download_artifacts(model_uri, dst_path=str(scratch / "model"))
        )
        # this environment's answer is computed while the other environment is built and
        # answers (in a subprocess): the check takes the longer of the two, not their sum
        with ThreadPoolExecutor(max_workers=1) as here:
            answered_here = here.submit(answer_here, model_folder)
            building = time.perf_counter()
            environment, cached = prepared_environment(model_folder, env_manager, root)
            build_seconds = time.perf_counter() - building
            report = run_probe(environment, model_folder, scratch)
            expected = answered_here.result()
        if report.get("stage") != "done":
            raise probe_failure(report, model_folder)
        comparison = compare_results(answers_frame(report["predictions"]), answers_frame(expected))
        differing = comparison.differing_rows
        if differing is not None:
            differing = differing.rename(columns={"model": "there", "pipeline": "here"}, level=0)
        installed = report.get("packages", {})
        return EnvironmentCheck(
            model_uri=model_uri,
            env_manager=env_manager,
            agree=comparison.agree,
            detail=comparison.detail,
            python=report.get("python", "?"),
            packages=requirement_versions(model_folder, installed),
            seconds=time.perf_counter() - started,
            build_seconds=build_seconds,
            cached=cached,
            environment=Path(report.get("prefix", "")),
            differing_rows=differing,
            installed=installed,
        )


def with_environment_check(logged: LoggedModel, *, env_manager: str = "uv") -> LoggedModel:
    """The log's result with its model checked in a fresh environment of its own requirements:
    ``environment_check`` holds the ``EnvironmentCheck``, or the ``EnvironmentCheckError`` that
    says why the check failed (the model is logged either way, and its summary says so). The log
    pointed MLflow at the store the model went to: its URI is found there."""
    try:
        checked: Any = check_environment(logged.model_info.model_uri, env_manager=env_manager)
    except EnvironmentCheckError as error:
        checked = error
    return dataclasses.replace(logged, environment_check=checked)
