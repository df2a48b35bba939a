"""Real Kedro sessions for the tests: a project opened as a notebook has it (``load_project``),
trained with Kedro (``train``), and the reference every parity test compares a model with:
Kedro's SequentialRunner with the frame bound to the data input (``kedro_output``); and the
environment of the shell commands and ``kedro run``s the tests start (``tool_environment``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOOLS = Path(sys.executable).parent  # this venv's kedro and kedro-mlflow-magic


def tool_environment(
    store: str | None = None, *, drop: tuple[str, ...] = (), our_tools: bool = True, **extra: str
) -> dict[str, str]:
    """The environment of a shell command or a ``kedro run`` a test starts: this venv's tools
    first on PATH (unless ``our_tools`` is false: a command of another venv), telemetry off,
    Kedro's rich console 1000 columns wide (so that no line of ours wraps, whatever the length
    of the paths and ids in it), MLflow pointed at ``store`` when given. Variables starting
    with a prefix in ``drop`` are left out; ``extra`` is added."""
    environment = {
        key: value for key, value in os.environ.items() if not (drop and key.startswith(drop))
    }
    environment |= {
        "KEDRO_DISABLE_TELEMETRY": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "COLUMNS": "1000",
    }
    if our_tools:
        environment["PATH"] = f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}"
    if store is not None:
        environment["MLFLOW_TRACKING_URI"] = store
    return environment | extra


@dataclass
class LoadedProject:
    """A Kedro project opened in a real KedroSession: its catalog and pipelines."""

    root: Path
    package: str
    catalog: Any
    pipelines: dict
    session: Any


def load_project(root: Path) -> LoadedProject:
    """The project at ``root`` opened as ``%reload_kedro`` opens it: a session, its catalog and
    every registered pipeline."""
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    metadata = bootstrap_project(root)
    session = KedroSession.create(project_path=root)
    context = session.load_context()
    return LoadedProject(
        root=root,
        package=metadata.package_name,
        catalog=context.catalog,
        pipelines=dict(pipelines),
        session=session,
    )


def train(root: Path) -> None:
    """``kedro run --pipelines training`` in a session of its own: the artifacts written."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_magic.compat import run_registered_pipeline

    bootstrap_project(root)
    with KedroSession.create(project_path=root) as session:
        run_registered_pipeline(session, "training")


def kedro_output(
    project: LoadedProject,
    pipeline: Any,
    data_input: str,
    frame: Any,
    *,
    output: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> Any:
    """What Kedro's SequentialRunner gives, the reference a model must agree with: the pipeline
    (or the name of a registered one) run on a fresh catalog of the project's session, with
    ``frame`` bound to ``data_input`` and ``values`` bound to their names (parameters,
    ``{"params:factor": 2.0}``); the value of ``output`` (default: the pipeline's single free
    output) as the runner returns it, unconverted."""
    from kedro.io import MemoryDataset
    from kedro.runner import SequentialRunner

    if isinstance(pipeline, str):
        pipeline = project.pipelines[pipeline]
    if output is None:
        (output,) = pipeline.outputs()
    catalog = project.session.load_context().catalog
    for name, value in {data_input: frame, **(values or {})}.items():
        catalog[name] = MemoryDataset(value)
    return SequentialRunner().run(pipeline, catalog)[output].load()


def wait_for_warm_up() -> None:
    """Let a warm-up thread started by the test finish (it would otherwise open stores and
    import modules during the next test)."""
    from kedro_mlflow_magic.tracking import warmup

    wait = getattr(warmup, "wait_for_warm_up", None)
    if wait is not None:
        wait()
