"""Each private Kedro or MLflow API that ``compat.py`` relies on, checked against the installed
releases: a failure here names the API that a new release changed."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import node, pipeline
from kedro.runner import SequentialRunner

from kedro_mlflow_magic import compat


def double(frame: pd.DataFrame) -> pd.DataFrame:
    return frame * 2


def add(left: int, right: int) -> int:
    return left + right


def split(value: int) -> dict[str, int]:
    return {"low": value - 1, "high": value + 1}


def test_node_interface_keeps_the_declared_form_of_inputs_and_outputs():
    keywords = node(add, {"left": "a", "right": "b"}, "total", name="keywords")
    positional = node(add, ["a", "b"], "total", name="positional")
    mapped = node(split, "total", {"low": "low", "high": "high"}, name="mapped")
    assert compat.node_interface(keywords) == ({"left": "a", "right": "b"}, "total"), (
        "Kedro changed Node._inputs/_outputs: the declared form of a node's interface"
    )
    assert compat.node_interface(positional) == (["a", "b"], "total")
    assert compat.node_interface(mapped) == ("total", {"low": "low", "high": "high"})


def test_create_hook_manager_runs_hooks_registered_on_it():
    class Seen:
        def __init__(self) -> None:
            self.nodes: list[str] = []

        @hook_impl
        def before_node_run(self, node) -> None:
            self.nodes.append(node.name)

    seen = Seen()
    hooks = compat.create_hook_manager()
    hooks.register(seen)
    catalog = DataCatalog(datasets={"frame": MemoryDataset(pd.DataFrame({"a": [1]}))})
    SequentialRunner().run(
        pipeline([node(double, "frame", "out", name="double")]), catalog, hook_manager=hooks
    )
    assert seen.nodes == ["double"], "kedro.framework.hooks._create_hook_manager changed"


def test_kept_memory_dataset_survives_the_runner_releasing_it():
    released = MemoryDataset(1)
    released.release()
    assert not released.exists(), "MemoryDataset.release no longer empties the dataset"
    kept = compat.KeptMemoryDataset(1)
    kept.release()
    assert kept.exists() and kept.load() == 1, (
        "MemoryDataset._release is no longer what release calls"
    )


def test_active_experiment_id_is_what_set_experiment_chose(tmp_path):
    import mlflow

    assert compat.active_experiment_id() is None
    name = f"compat-check-{tmp_path.name}"
    mlflow.MlflowClient().create_experiment(name, artifact_location=tmp_path.as_uri())
    experiment_id = mlflow.set_experiment(name).experiment_id
    assert compat.active_experiment_id() == experiment_id, (
        "mlflow.tracking.fluent._active_experiment_id changed"
    )


def test_run_stack_set_aside_empties_the_stack_and_puts_it_back():
    import mlflow

    outer = mlflow.start_run()
    try:
        with compat.run_stack_set_aside():
            assert mlflow.active_run() is None, "mlflow.tracking.fluent._active_run_stack changed"
            inner = mlflow.start_run()
            mlflow.end_run()
        assert mlflow.active_run().info.run_id == outer.info.run_id
        assert inner.info.run_id != outer.info.run_id
    finally:
        mlflow.end_run()


def test_warm_mlflow_package_map_fills_what_its_requirement_check_reads():
    from mlflow.utils import requirements_utils

    compat.warm_mlflow_package_map()
    assert "mlflow" in requirements_utils._MODULES_TO_PACKAGES
    assert requirements_utils._PACKAGES_TO_MODULES.get("scikit-learn") == "sklearn"


def test_warm_mlflow_run_context_caches_the_git_context():
    from mlflow.tracking.context.git_context import GitRunContext
    from mlflow.tracking.context.registry import _run_context_provider_registry

    git = next(p for p in _run_context_provider_registry if isinstance(p, GitRunContext))
    git._cache.clear()
    compat.warm_mlflow_run_context()
    assert git._cache, "MLflow's git run context no longer caches what it resolved"


def test_create_tracking_tables_makes_a_store_mlflow_opens_as_is(tmp_path):
    import sqlite3

    import mlflow

    database = tmp_path / "mlflow.db"
    compat.create_tracking_tables(str(database))
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM experiments").fetchone() == (0,)
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone()
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{database}")
    assert [experiment.name for experiment in client.search_experiments()] == ["Default"]


@pytest.mark.parametrize("name", ["_inputs", "_outputs"])
def test_node_still_has_its_private_interface_attributes(name):
    assert hasattr(node(add, ["a", "b"], "total"), name)


def test_all_project_pipelines_lifts_the_filter_of_a_run_of_named_pipelines(demo):
    from kedro.framework.project import pipelines

    if not hasattr(pipelines, "set_requested"):  # Kedro before 1.7: nothing filters pipelines
        assert set(compat.all_project_pipelines()) >= {"training", "inference"}
        return
    pipelines.set_requested(["training"])  # what KedroSession.run does for --pipelines training
    assert pipelines._requested_pipelines == ["training"]
    everything = compat.all_project_pipelines()
    assert pipelines._requested_pipelines is None
    assert {"training", "inference", "__default__"} <= set(everything)


def test_configure_mlflow_loggers_sets_the_level_mlflow_logging_level_says(monkeypatch):
    import logging

    from kedro_mlflow_magic.compat import configure_mlflow_loggers

    logger = logging.getLogger("mlflow")
    monkeypatch.setenv("MLFLOW_LOGGING_LEVEL", "ERROR")
    try:
        configure_mlflow_loggers()
        assert logger.level == logging.ERROR and not logger.propagate
        assert len(logger.handlers) == 1
    finally:
        monkeypatch.delenv("MLFLOW_LOGGING_LEVEL")
        configure_mlflow_loggers()
    assert logger.level == logging.INFO


def test_model_name_and_version_resolves_an_alias_a_stage_latest_and_a_model_id(tmp_path):
    """``mlflow.store.artifact.utils.models.get_model_name_and_version``."""
    import mlflow
    from sklearn.dummy import DummyClassifier

    experiment = mlflow.create_experiment("compat-aliases", artifact_location=tmp_path.as_uri())
    model = DummyClassifier().fit([[0], [1]], [0, 1])
    with mlflow.start_run(experiment_id=experiment):
        first = mlflow.sklearn.log_model(model, name="m", registered_model_name="compat-m")
        mlflow.sklearn.log_model(model, name="m", registered_model_name="compat-m")
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("compat-m", "champion", "1")
    assert compat.model_name_and_version(client, "models:/compat-m@champion") == ("compat-m", "1")
    assert compat.model_name_and_version(client, "models:/compat-m/latest") == ("compat-m", "2")
    assert compat.model_name_and_version(client, "models:/compat-m/2") == ("compat-m", "2")
    assert compat.model_name_and_version(client, f"models:/{first.model_id}") == (first.model_id,)


def test_model_info_as_copies_every_value_mlflows_model_info_shows(tmp_path):
    """``ModelInfo`` keeps its values as the instance attributes its properties read: a copy of
    ``vars(info)`` into a subclass shows every one of them, the logged model's included."""
    import mlflow
    from mlflow.models.model import ModelInfo
    from sklearn.dummy import DummyClassifier

    class Shown(ModelInfo):
        pass

    experiment = mlflow.create_experiment("compat-model-info", artifact_location=tmp_path.as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            DummyClassifier().fit([[0], [1]], [0, 1]), name="m",
            registered_model_name="compat-info", input_example=[[0]],
        )  # fmt: skip
    copied = compat.model_info_as(Shown, info)
    properties = [name for name, value in vars(ModelInfo).items() if isinstance(value, property)]
    assert {"model_uri", "signature", "model_id", "registered_model_version"} <= set(properties)
    changed = [name for name in properties if getattr(copied, name) != getattr(info, name)]
    assert isinstance(copied, Shown) and not changed, (
        f"MLflow's ModelInfo no longer keeps {changed} in its instance attributes: "
        "compat.model_info_as copies vars(info)"
    )
    assert copied.model_id and copied.registered_model_version == 1


def test_run_registered_pipeline_runs_it_as_the_installed_kedro_asks(tmp_path):
    """Kedro 1.0 takes ``pipeline_name``, later releases ``pipeline_names`` (logging a
    deprecation for the other): the pipeline runs, and no deprecation reaches the user's cell."""
    import logging

    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_magic.demo import create_demo_project

    class Recorder(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    root = create_demo_project(tmp_path / "project", "churn_demo")
    bootstrap_project(root)
    recorder = Recorder()
    session_logger = logging.getLogger(KedroSession.__module__)
    session_logger.addHandler(recorder)
    try:
        with KedroSession.create(project_path=root) as session:
            compat.run_registered_pipeline(session, "training")
    finally:
        session_logger.removeHandler(recorder)
    assert (root / "data" / "06_models" / "classifier.pkl").is_file()
    assert not [message for message in recorder.messages if "deprecated" in message]


@pytest.mark.slow
def test_mlflow_builds_a_models_environment_in_the_folder_model_environment_folder_names(
    make_project, tmp_path
):
    """``PyFuncBackend.prepare_env`` and ``mlflow.utils.virtualenv._get_python_env`` /
    ``_get_virtualenv_name`` / ``_VIRTUALENV_ENVS_DIR``: the environment check's cache needs
    to know the folder MLflow builds (the requirements are the base ones, so the user cache
    holds this environment after the first run)."""
    from pathlib import Path

    import mlflow
    from sessions import load_project

    from kedro_mlflow_magic import log_pipeline_model
    from kedro_mlflow_magic.verify.environment_check import env_manager_on_path, environments_root

    root = make_project(
        nodes="def double(frame):\n    return frame * 2\n",
        pipelines='return {"flow": pipeline([node(nodes.double, "frame", "doubled")])}',
    )
    project = load_project(root)
    info = log_pipeline_model(
        project.pipelines["flow"], project.catalog, "frame", pd.DataFrame({"a": [1.0]})
    )
    folder = Path(
        mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "model"))
    )
    cache = environments_root()
    expected = compat.model_environment_folder(folder, cache)
    assert expected.parent.parent == cache and expected.name.startswith("mlflow-"), (
        "MLflow changed where it builds a model's virtualenv under env_root_dir"
    )
    with env_manager_on_path("uv"):
        environment = compat.prepare_model_environment(folder, "uv", cache)
    printed = environment.execute(
        "python -c 'import sys; print(sys.prefix)'", capture_output=True
    ).stdout
    assert Path(printed.strip()) == expected, (
        "PyFuncBackend.prepare_env built the environment elsewhere than "
        "compat.model_environment_folder says"
    )


def test_mlflow_store_lookups_and_bases_are_where_every_store_access_goes(tmp_path):
    """Every MLflow call that reaches a store asks one of the two registries for it
    (``get_store``), and the store it gets is one of the two bases' subclasses."""
    import mlflow

    lookups = dict(compat.mlflow_store_lookups())
    assert set(lookups.values()) == {"tracking store", "model registry"}
    for registry in lookups:
        assert "get_store" in vars(registry), f"MLflow moved {registry.__name__}.get_store"
    tracking_base, registry_base = compat.mlflow_store_bases()
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert isinstance(client._tracking_client.store, tracking_base)
    assert isinstance(client._get_registry_client().store, registry_base)
    for name in ("search_runs", "get_run", "log_batch"):
        assert callable(getattr(tracking_base, name, None)), name
    for name in ("get_model_version_by_alias", "get_model_version", "search_model_versions"):
        assert callable(getattr(registry_base, name, None)), name
