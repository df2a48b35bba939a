"""Shared fixtures: real Kedro projects in temporary folders, real sessions, a real sqlite store.

Layers: ``mlflow_store`` (one sqlite store per test session) -> ``trained_demo`` (the shipped
demo project, trained once) -> ``demo`` (its catalog and pipelines, loaded per test);
``make_project`` writes a custom project from node source, pipelines and catalog text.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

from kedro_mlflow_env import kedro_mlflow_venv_python
from model_files import PLANTED_TOKENS, credential_values, model_problems, plant_package_secrets
from projects import write_project, write_text_project
from sessions import LoadedProject, load_project, train, wait_for_warm_up


@pytest.fixture(scope="session", autouse=True)
def every_logged_model_is_clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the whole suite: every model any test logged (every MLmodel below the test
    session's temporary folders) holds no value of any test project's credentials and no
    pickle but the ones its manifest names, no token planted in a project's package folder
    (a ``.env``, a notebook) and nothing but Python source and included files under ``code/``.
    A hit fails the run."""
    yield
    base = tmp_path_factory.getbasetemp()
    secrets = credential_values(base) | PLANTED_TOKENS
    models = [path.parent for path in base.rglob("MLmodel")]
    problems = [problem for model in models for problem in model_problems(model, secrets)]
    assert not problems, "\n".join(problems[:20])


@pytest.fixture(scope="session", autouse=True)
def spark_connect_missing_as_in_a_plain_process() -> None:
    """pyspark's Spark Connect client, imported without grpc in a process whose ``__main__`` has
    neither ``__spec__`` nor ``__file__`` (a pytest-xdist worker: execnet runs ``python -c``),
    takes the import for a doctest run and exits the worker (``sys.exit(0)``). MLflow imports it
    when it infers a signature from anything but a frame, and expects the ImportError that a
    plain process gets: each worker gets that ImportError too."""
    import importlib.util

    main = sys.modules["__main__"]
    in_worker = main.__spec__ is None and not hasattr(main, "__file__") and not hasattr(sys, "ps1")
    if in_worker and importlib.util.find_spec("grpc") is None:
        sys.modules.setdefault("pyspark.sql.connect", None)


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One sqlite tracking store for the whole test session (creating one costs about a second).
    Its default experiment keeps artifacts beside it (MLflow's default, ``./mlruns``, would put
    the models of tests that log into it in the folder pytest runs from, out of the suite-wide
    check of every logged model)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    SqlAlchemyStore(uri, (folder / "mlartifacts").as_uri()).engine.dispose()
    return uri


@pytest.fixture(autouse=True)
def clean_mlflow(mlflow_store: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with the shared store, no active run, no chosen experiment, no
    tracking credentials, no project URI or credentials remembered by our tracking module, and
    ends with none of them left behind, whatever the order of the tests: the environment is put
    back as it was (``mlflow.set_experiment`` exports MLFLOW_EXPERIMENT_ID, a project's
    ``server.credentials`` export MLFLOW_TRACKING_USERNAME..., which a later test's kernels and
    subprocesses would inherit), and a warm-up thread a magic started has finished."""
    import mlflow
    import mlflow.tracking._tracking_service.utils as tracking_utils
    import mlflow.tracking.fluent as fluent

    from kedro_mlflow_magic.tracking import store

    environment = dict(os.environ)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    for name in MLFLOW_CHOICES:
        monkeypatch.delenv(name, raising=False)
    # what a previous test's project made our tracking module remember (raising=False: the
    # names may move as the module changes)
    monkeypatch.setattr(store, "project_uri_set", None, raising=False)
    monkeypatch.setattr(store, "exported_credentials", {}, raising=False)
    yield
    wait_for_warm_up()
    while mlflow.active_run() is not None:
        mlflow.end_run()
    tracking_utils._tracking_uri = None
    fluent._active_experiment_id = None
    os.environ.clear()
    os.environ.update(environment)


# MLflow's choices a test's environment starts without (the store is the shared one).
MLFLOW_CHOICES = (
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
)


@pytest.fixture(scope="session")
def ipython_shell():
    """The one real IPython shell of the test session (IPython keeps a singleton per process)."""
    from IPython.testing import globalipapp

    globalipapp.start_ipython()
    return globalipapp.get_ipython()


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped demo project, created and trained once for the test session."""
    from kedro_mlflow_magic.demo import create_demo_project

    root = create_demo_project(tmp_path_factory.mktemp("demo") / "project", "churn_demo")
    plant_package_secrets(root / "src" / "churn_demo")
    train(root)
    return root


@pytest.fixture
def demo(trained_demo: Path) -> LoadedProject:
    """The trained demo project opened in a fresh KedroSession."""
    return load_project(trained_demo)


@pytest.fixture
def demo_sample(demo: LoadedProject):
    """Customers to score: the demo's training rows without the label."""
    return demo.catalog.load("customers").drop(columns=["churned"]).head(40)


@pytest.fixture
def make_project(tmp_path: Path):
    """Write a real Kedro project: ``make_project(nodes=..., pipelines=..., catalog=...,
    parameters=..., credentials=..., files={relative path: text})`` -> its root folder
    (see ``projects.write_project``)."""

    def write(nodes: str, pipelines: str, *texts: str, **options: Any) -> Path:
        package = f"project_{uuid.uuid4().hex[:10]}"
        root = tmp_path / package
        return write_project(root, nodes, pipelines, *texts, package=package, **options)

    return write


@pytest.fixture
def text_project(tmp_path: Path) -> LoadedProject:
    """A project shaped like a kedro-mlflow text classifier (``projects.TEXT_*``), trained with
    Kedro: persisted data input (a frame in a pickle), pickled artifacts and a YAML one, no
    parameters; pipelines ``inference`` (a numpy string-array output), ``confidence`` (a Series
    of floats) and ``word_counts`` (a Series of integers)."""
    root = write_text_project(tmp_path / f"project_{uuid.uuid4().hex[:10]}")
    train(root)
    return load_project(root)


@pytest.fixture
def project_notebook(ipython_shell):
    """The IPython shell with our magics, and a way to put a loaded project in its namespace
    as ``%reload_kedro`` would (its variables put back afterwards)."""
    shell = ipython_shell
    shell.run_line_magic("load_ext", "kedro_mlflow_magic")
    saved = dict(shell.user_ns)

    def load(project, **variables):
        shell.user_ns.update(
            session=project.session, context=project.session.load_context(),
            catalog=project.catalog, pipelines=project.pipelines, **variables,
        )  # fmt: skip
        return shell

    yield load
    for name in set(shell.user_ns) - set(saved):
        del shell.user_ns[name]
    shell.user_ns.update(saved)


@pytest.fixture(scope="session")
def spark() -> Iterator:
    """One small local Spark session (``local[2]``) for the test session, its Python workers
    running this interpreter, bound to 127.0.0.1 and without its web UI; stopped at the end.
    Skips where the spark extra is not installed."""
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYSPARK_PYTHON", sys.executable)
        patch.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
        session = (
            SparkSession.builder.master("local[2]")
            .appName("kedro-mlflow-magic-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "512m")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        # py4j logs each command to the JVM at DEBUG, from whatever thread collects a Java
        # object: a test that listens at DEBUG (caplog) would hear it while the session lives
        py4j = logging.getLogger("py4j")
        level = py4j.level
        py4j.setLevel(logging.WARNING)
        try:
            yield session
        finally:
            session.stop()
            py4j.setLevel(level)


@pytest.fixture(scope="session")
def kedro_mlflow_python() -> Path:
    """The Python of a venv with kedro-mlflow 2.x and this checkout (``kedro_mlflow_env``),
    built once and cached (a few minutes the first time)."""
    return kedro_mlflow_venv_python()
