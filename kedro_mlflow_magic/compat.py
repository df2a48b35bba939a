"""The private Kedro and MLflow API this package relies on, in one place.

Each use has a test in ``tests/test_compat.py`` that fails loudly, naming the API, when a Kedro
or MLflow release changes it. ``%load_ext`` imports this module through ``tracking``: MLflow is
imported inside the functions that need it, to keep it out of ``%load_ext``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from kedro.io import MemoryDataset
from kedro.pipeline.node import Node

Info = TypeVar("Info")


def node_interface(node: Node) -> tuple[Any, Any]:
    """The node's inputs and outputs in the form they were declared (a name, a list or a dict),
    which decides how the function is called and how its result is split.

    Kedro's public ``inputs``/``outputs`` give flat lists only; the declared form lives in
    ``Node._inputs``/``Node._outputs``.
    """
    return node._inputs, node._outputs


def create_hook_manager() -> Any:
    """A Kedro hook manager for one runner call (Kedro has no public constructor for it)."""
    from kedro.framework.hooks import _create_hook_manager

    return _create_hook_manager()


class KeptMemoryDataset(MemoryDataset):
    """A MemoryDataset that the runner cannot release: the runner releases ``names@pickle`` as
    soon as it is saved (nothing loads that very name), before a node loads ``names@raw``.
    ``MemoryDataset._release`` is what the runner's release calls."""

    def _release(self) -> None:
        pass


def model_info_as(subclass: type[Info], info: Any) -> Info:
    """MLflow's ``ModelInfo`` ``info`` as an instance of ``subclass`` (a subclass of it) with
    the same values, without calling ``__init__``. ``ModelInfo`` has no copy constructor: its
    values are the private instance attributes its ``__init__`` sets (``_model_uri``,
    ``_signature``, ``_logged_model``...), which its public properties read; a copy of its
    ``__dict__`` is the same information."""
    copied = subclass.__new__(subclass)
    copied.__dict__.update(vars(info))
    return copied


def active_experiment_id() -> str | None:
    """The experiment chosen with ``mlflow.set_experiment()``; MLflow has no public getter for
    it (``mlflow.get_experiment`` needs the id)."""
    import mlflow.tracking.fluent as fluent

    return getattr(fluent, "_active_experiment_id", None)


@contextlib.contextmanager
def run_stack_set_aside() -> Iterator[None]:
    """Empty MLflow's stack of active runs (this thread's) for the duration, then put back
    exactly what was there: so that a run another tool left on the stack is neither reused nor
    ended. MLflow keeps the stack in ``mlflow.tracking.fluent._active_run_stack``."""
    import mlflow.tracking.fluent as fluent

    stack = fluent._active_run_stack.get()
    saved = list(stack)
    stack.clear()
    try:
        yield
    finally:
        stack[:] = saved


def warm_mlflow_package_map() -> None:
    """Build the map of installed packages to their modules that MLflow builds on a first log,
    to check the model's requirements against this environment (a scan of every installed
    distribution, seconds in an environment with many packages). MLflow keeps it in
    ``mlflow.utils.requirements_utils._MODULES_TO_PACKAGES`` / ``_PACKAGES_TO_MODULES``,
    built by ``_init_packages_to_modules_map`` once per process."""
    from mlflow.utils import requirements_utils

    requirements_utils._init_packages_to_modules_map()


def warm_mlflow_run_context() -> None:
    """Resolve the run-context tags that ``mlflow.start_run`` resolves on a first run (git
    information, found by importing GitPython and asking git); MLflow's git context provider
    caches them for the process. Read-only: nothing is set."""
    from mlflow.tracking.context.registry import resolve_tags

    resolve_tags()


def create_tracking_tables(database: str) -> None:
    """Create MLflow's tables in the empty sqlite file ``database`` exactly as MLflow does when
    its store opens an empty database: an engine made by MLflow, its initial tables, then its
    alembic migrations up to the head. ``mlflow.store.db.utils._initialize_tables`` is what the
    store's constructor calls (MLflow has no public function for it)."""
    from mlflow.store.db import utils

    engine = utils.create_sqlalchemy_engine(f"sqlite:///{Path(database).as_posix()}")
    try:
        utils._initialize_tables(engine)
    finally:
        engine.dispose()


@contextlib.contextmanager
def mlflow_messages_muted() -> Iterator[None]:
    """Mute MLflow's own message stream for the duration (its ``eprint`` lines such as
    "Successfully registered model ...", and its loggers' handler), then restore its state.
    MLflow's ``disable_logging``/``enable_logging`` cannot restore a user's own choice, so the
    flag of ``mlflow.utils.logging_utils.MLFLOW_LOGGING_STREAM`` is saved and put back. Only
    when MLflow is already imported: muting must not import it."""
    if "mlflow" not in sys.modules:
        yield
        return
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

    enabled = MLFLOW_LOGGING_STREAM.enabled
    MLFLOW_LOGGING_STREAM.enabled = False
    try:
        yield
    finally:
        MLFLOW_LOGGING_STREAM.enabled = enabled


def configure_mlflow_loggers() -> None:
    """Configure MLflow's loggers as its import does (``_configure_mlflow_loggers``: the level
    from ``MLFLOW_LOGGING_LEVEL``, its own handler, no propagation)."""
    from mlflow.utils.logging_utils import _configure_mlflow_loggers

    _configure_mlflow_loggers(root_module_name="mlflow")


def all_project_pipelines() -> Any:
    """Kedro's registered pipelines, every one of them. During ``kedro run --pipelines a``,
    Kedro 1.7 asks ``find_pipelines`` registries for the requested ones only
    (``pipelines.set_requested``); a hook that needs another pipeline after the run lifts that
    filter (``_requested_pipelines`` is where Kedro keeps it)."""
    from kedro.framework.project import pipelines

    if getattr(pipelines, "_requested_pipelines", None) is not None:
        pipelines.set_requested(None)
    return pipelines


def model_name_and_version(client: Any, models_uri: str) -> tuple[str, ...]:
    """What a ``models:/`` URI names now: ``(model_id,)`` for ``models:/<model id>``, else
    ``(name, version)`` with an alias, a stage or ``latest`` resolved to its version, as MLflow
    resolves it when loading. MLflow's ``mlflow.store.artifact.utils.models
    .get_model_name_and_version`` has no public counterpart."""
    from mlflow.store.artifact.utils.models import get_model_name_and_version

    return tuple(str(part) for part in get_model_name_and_version(client, models_uri))


def run_registered_pipeline(session: Any, name: str) -> dict[str, Any]:
    """``KedroSession.run`` of one registered pipeline. Not private, but changed within the
    supported range: Kedro 1.0 takes ``pipeline_name``; later releases take ``pipeline_names``
    and deprecate the former (a warning in the user's cell)."""
    import inspect

    if "pipeline_names" in inspect.signature(session.run).parameters:
        return session.run(pipeline_names=[name])
    return session.run(pipeline_name=name)


def model_environment_folder(model_path: Path, env_root: Path) -> Path:
    """The folder of the virtual environment MLflow builds for the model in ``model_path``
    under ``env_root`` (its ``env_root_dir``): named from a hash of the model's Python version
    and requirements, so models with the same requirements share it. MLflow computes it in
    ``mlflow.utils.virtualenv._get_or_create_virtualenv`` from ``_get_python_env`` and
    ``_get_virtualenv_name``, under ``_VIRTUALENV_ENVS_DIR``; no public API says where."""
    from mlflow.utils import virtualenv

    python_env = virtualenv._get_python_env(Path(model_path))
    name = virtualenv._get_virtualenv_name(python_env, Path(model_path))
    return Path(env_root) / virtualenv._VIRTUALENV_ENVS_DIR / name


def prepare_model_environment(model_path: Path, env_manager: str, env_root: Path) -> Any:
    """MLflow's environment for a model (``uv`` or ``virtualenv``) built from its own
    requirements under ``env_root``, or reused when it is there: what ``mlflow models serve``
    and ``mlflow.models.predict(..., env_manager=...)`` build. An ``Environment`` whose
    ``execute(command, capture_output=True)`` runs a shell command inside it. MLflow's
    ``mlflow.pyfunc.backend.PyFuncBackend.prepare_env`` does it (an undocumented class)."""
    from mlflow.models import Model
    from mlflow.pyfunc import FLAVOR_NAME
    from mlflow.pyfunc.backend import PyFuncBackend

    flavor = Model.load(Path(model_path) / "MLmodel").flavors[FLAVOR_NAME]
    backend = PyFuncBackend(flavor, env_manager=env_manager, env_root_dir=str(env_root))
    return backend.prepare_env(str(model_path), capture_output=True)


def mlflow_store_lookups() -> tuple[tuple[type, str], ...]:
    """MLflow's two registries of stores, with what each gives: every MLflow call that reaches
    a tracking store or a model registry (``MlflowClient``, ``mlflow.search_runs``, loading a
    ``models:/`` or ``runs:/`` URI) asks one of them for its store, through ``get_store``.
    ``TrackingStoreRegistry`` and ``ModelRegistryStoreRegistry`` are undocumented classes."""
    from mlflow.tracking._model_registry.registry import ModelRegistryStoreRegistry
    from mlflow.tracking._tracking_service.registry import TrackingStoreRegistry

    return (
        (TrackingStoreRegistry, "tracking store"),
        (ModelRegistryStoreRegistry, "model registry"),
    )


def mlflow_store_bases() -> tuple[type, ...]:
    """The base classes of MLflow's tracking stores and model registries (SQL, REST, plugins'):
    ``mlflow.store.tracking.abstract_store.AbstractStore`` and
    ``mlflow.store.model_registry.abstract_store.AbstractStore``, whose public methods are
    every way a store is read or written (the base classes plugins implement)."""
    from mlflow.store.model_registry.abstract_store import AbstractStore as RegistryStore
    from mlflow.store.tracking.abstract_store import AbstractStore as TrackingStore

    return (TrackingStore, RegistryStore)
