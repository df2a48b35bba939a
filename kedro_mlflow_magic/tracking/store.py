"""Where runs go (``docs/explanation/behaviour.md#where-runs-go``): the tracking URI and the
experiment, resolved from the project's description (its root, and its session's config
loader, through which ``mlflow.yml`` is read as ``kedro run --env`` reads it).

``%load_ext`` imports this module (to find the project); MLflow and Kedro's config loader are
imported inside the functions that need them, to keep MLflow out of ``%load_ext``."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlparse

from kedro_mlflow_magic.compat import active_experiment_id
from kedro_mlflow_magic.errors import ExperimentError

if TYPE_CHECKING:
    from kedro_mlflow_magic.project import ProjectDescription

logger = logging.getLogger(__name__)

MLFLOW_CONFIG_PATTERNS = ["mlflow*", "mlflow*/**", "**/mlflow*"]


def default_tracking_uri(project_root: Path) -> str:
    return f"sqlite:///{(project_root / 'mlflow.db').as_posix()}"


# kedro-mlflow's settings read once per config loader (a loaded session has one), or once per
# project while its mlflow.yml files are unchanged: each new OmegaConfigLoader prints warnings.
settings_by_loader: dict[int, tuple[Any, dict[str, Any]]] = {}
settings_by_files: dict[tuple[Any, ...], dict[str, Any]] = {}


def read_mlflow_settings(loader: Any) -> dict[str, Any]:
    from kedro.config import MissingConfigException

    patterns = getattr(loader, "config_patterns", None)
    if isinstance(patterns, dict) and "mlflow" not in patterns:
        patterns["mlflow"] = MLFLOW_CONFIG_PATTERNS
    try:
        return dict(loader["mlflow"] or {})
    except (MissingConfigException, KeyError):
        return {}


def mlflow_settings(project_root: Path, config_loader: Any = None) -> dict[str, Any]:
    """The project's kedro-mlflow ``mlflow.yml`` settings (empty without one), read through
    ``config_loader`` (a session's ``context.config_loader``) once per loader, else through a
    loader of our own once per state of the project's mlflow files."""
    if config_loader is not None:
        cached = settings_by_loader.get(id(config_loader))
        if cached is None or cached[0] is not config_loader:
            cached = (config_loader, read_mlflow_settings(config_loader))
            settings_by_loader[id(config_loader)] = cached
        return cached[1]
    conf = project_root / "conf"
    if not conf.is_dir():
        return {}
    files = sorted(path for path in conf.rglob("mlflow*") if path.is_file())
    if not files:
        return {}
    key = (str(conf), *((str(path), path.stat().st_mtime_ns) for path in files))
    if key not in settings_by_files:
        settings_by_files[key] = read_mlflow_settings(project_config_loader(conf))
    return settings_by_files[key]


def project_config_loader(conf: Path) -> Any:
    """A config loader of our own for the project's conf folder (when no session lends one)."""
    from kedro.config import OmegaConfigLoader

    return OmegaConfigLoader(
        conf_source=str(conf),
        base_env="base",
        default_run_env="local",
        config_patterns={"mlflow": MLFLOW_CONFIG_PATTERNS},
    )


def mlflow_yml_path(project_root: Path) -> Path:
    """The mlflow.yml a user edits: conf/local's when there is one (``kedro mlflow init``
    writes it there), else conf/base's."""
    for env in ("local", "base"):
        path = project_root / "conf" / env / "mlflow.yml"
        if path.is_file():
            return path
    return project_root / "conf" / "local" / "mlflow.yml"


def is_relative_sqlite(uri: str) -> bool:
    """``sqlite:///mlruns.db``: a path that SQLite opens from the current folder."""
    return uri.startswith("sqlite:///") and not uri.startswith("sqlite:////")


def from_project_root(uri: str, project_root: Path) -> str:
    """A relative sqlite URI made absolute from the project root (as ``kedro run`` opens it)."""
    if is_relative_sqlite(uri):
        return f"sqlite:///{(project_root / uri.removeprefix('sqlite:///')).as_posix()}"
    return uri


def configured_uri_as_written(project_root: Path, config_loader: Any = None) -> str | None:
    settings = mlflow_settings(project_root, config_loader)
    uri = (settings.get("server") or {}).get("mlflow_tracking_uri")
    return str(uri) if uri else None


def configured_tracking_uri(project_root: Path, config_loader: Any = None) -> str | None:
    """``server.mlflow_tracking_uri`` from a kedro-mlflow ``mlflow.yml`` in the project's conf;
    a relative sqlite path is resolved from the project root."""
    uri = configured_uri_as_written(project_root, config_loader)
    if not uri:
        return None
    scheme = urlparse(uri).scheme
    if scheme in ("", "file") or len(scheme) == 1:  # a folder: MLflow's deprecated file store
        logger.warning(
            "mlflow.yml points at the file store %r, which MLflow 3 refuses; using %s instead",
            uri,
            default_tracking_uri(project_root),
        )
        return None
    return from_project_root(uri, project_root)


# The project URI that use_project_tracking set last: MLflow cannot tell it from the user's own
# choice, and it must not stick when the notebook moves on to another project.
project_uri_set: str | None = None


def user_chose_tracking_uri() -> bool:
    """Whether MLFLOW_TRACKING_URI or ``mlflow.set_tracking_uri`` chose the URI, not us
    (``mlflow.set_tracking_uri`` also sets the environment variable)."""
    import mlflow

    environment_uri = os.environ.get("MLFLOW_TRACKING_URI")
    if environment_uri and environment_uri != project_uri_set:
        return True
    return mlflow.is_tracking_uri_set() and mlflow.get_tracking_uri() != project_uri_set


def set_by_kedro_mlflow_as_written(project_root: Path, config_loader: Any = None) -> bool:
    """Whether MLflow's URI is the project's relative sqlite URI exactly as mlflow.yml writes
    it: kedro-mlflow's hook sets it so on session start, and SQLite would then open it from
    the notebook's folder, not the project's. That is the project's choice, not the user's."""
    import mlflow

    written = configured_uri_as_written(project_root, config_loader)
    return (
        written is not None and is_relative_sqlite(written) and mlflow.get_tracking_uri() == written
    )


class TrackingChoice(NamedTuple):
    """The tracking URI a log uses, and whether we chose it (the project's: we point MLflow at
    it) or the user did (MLflow is left as it is)."""

    uri: str
    ours: bool


def resolve_tracking_uri(project_root: Path | None, config_loader: Any = None) -> TrackingChoice:
    """MLFLOW_TRACKING_URI or ``mlflow.set_tracking_uri`` when set (the user's choice); else
    ours: the project's mlflow.yml (a relative sqlite path resolved from the project root, also
    when kedro-mlflow's hook set it as written), else ``sqlite:///<project root>/mlflow.db``."""
    import mlflow

    root = project_root or Path.cwd()
    if user_chose_tracking_uri() and not set_by_kedro_mlflow_as_written(root, config_loader):
        return TrackingChoice(mlflow.get_tracking_uri(), ours=False)
    uri = configured_tracking_uri(root, config_loader) or default_tracking_uri(root)
    return TrackingChoice(uri, ours=True)


# The environment variables export_server_credentials set, and to what: a project's values
# replace them when the notebook moves on; the user's own are never replaced.
exported_credentials: dict[str, str] = {}


def export_server_credentials(
    settings: Mapping[str, Any] | None, credentials: Mapping[str, Any] | None
) -> list[str]:
    """kedro-mlflow's ``server.credentials`` of mlflow.yml: the entry of credentials.yml it
    names (e.g. MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD) exported as environment
    variables, as kedro-mlflow does, so that MLflow authenticates with them. Returns the names
    exported (never the values: nothing prints or stores them)."""
    entry = ((settings or {}).get("server") or {}).get("credentials")
    if not entry:
        return []
    values = (credentials or {}).get(str(entry))
    if not isinstance(values, Mapping):
        logger.warning(
            "mlflow.yml names the credentials '%s', which credentials.yml does not have", entry
        )
        return []
    exported = []
    for name, value in values.items():
        name, value = str(name), str(value)
        if name in os.environ and exported_credentials.get(name) != os.environ[name]:
            continue  # the user's own setting wins
        os.environ[name] = exported_credentials[name] = value
        exported.append(name)
    return exported


def project_server_credentials(project_root: Path, config_loader: Any = None) -> list[str]:
    """Export the server credentials the project's mlflow.yml names (see
    ``export_server_credentials``), read through the session's ``config_loader`` when given."""
    settings = mlflow_settings(project_root, config_loader)
    if not ((settings.get("server") or {}).get("credentials")):
        return []
    from kedro.config import MissingConfigException

    loader = config_loader or project_config_loader(project_root / "conf")
    try:
        credentials = loader["credentials"]
    except (MissingConfigException, KeyError):
        credentials = {}
    return export_server_credentials(settings, credentials)


def use_project_tracking(project_root: Path | None, config_loader: Any = None) -> str:
    """Point MLflow at the project's tracking URI (unless the user chose one) and return it;
    export the server credentials its mlflow.yml names. ``config_loader``: the loaded
    session's, so that its settings are read once."""
    global project_uri_set
    import mlflow

    if project_root is not None:
        project_server_credentials(project_root, config_loader)
    choice = resolve_tracking_uri(project_root, config_loader)
    if choice.ours:
        mlflow.set_tracking_uri(choice.uri)
        project_uri_set = choice.uri
    return choice.uri


def user_chose_experiment() -> bool:
    if os.environ.get("MLFLOW_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_ID"):
        return True
    return bool(active_experiment_id())


@dataclass(frozen=True)
class ExperimentChoice:
    """The experiment of a log's new run, chosen once: ``name`` when the caller named it
    (``asked``); else None when the user chose one (MLflow's active experiment); else the one
    named after the project's package. ``shown`` is the name a refusal names."""

    name: str | None
    asked: bool
    shown: str | None
    project_root: Path | None
    # the session's loader: a new experiment's artifact location is read from the same
    # mlflow.yml as the tracking URI
    config_loader: Any = None

    def experiment_id(self) -> str | None:
        """The id of the named experiment (created when missing; None: MLflow's active one),
        looked up only when a new run needs it."""
        if self.name is None:
            return None
        return experiment_id_named(self.name, self.project_root, self.config_loader)

    def described(self) -> str:
        return f"experiment '{self.shown}'" if self.shown else "the experiment"


def choose_experiment(
    asked: str | None,
    project_root: Path | None,
    package_name: str | None,
    config_loader: Any = None,
) -> ExperimentChoice:
    """The experiment a new run goes to: ``asked`` when given; else the user's active one;
    else one named after the project's package."""
    if asked is not None:
        return ExperimentChoice(asked, True, asked, project_root, config_loader)
    name = None if user_chose_experiment() else package_name
    shown = os.environ.get("MLFLOW_EXPERIMENT_NAME") or package_name
    return ExperimentChoice(name, False, shown, project_root, config_loader)


@dataclass(frozen=True)
class Destination:
    """Where a log goes: the tracking URI (MLflow pointed at it) and the experiment."""

    tracking_uri: str
    experiment: ExperimentChoice


def log_destination(
    project: ProjectDescription, experiment: str | None, package_name: str | None
) -> Destination:
    """Point MLflow at the project's tracking (``use_project_tracking``) and choose the
    experiment of a new run (``choose_experiment``), once for the whole log, both read
    through the project's config loader."""
    uri = use_project_tracking(project.path, project.config_loader)
    choice = choose_experiment(experiment, project.path, package_name, project.config_loader)
    return Destination(uri, choice)


def experiment_id_named(name: str, project_root: Path | None, config_loader: Any = None) -> str:
    """The id of the experiment ``name``, created when it does not exist, with its artifacts
    under ``<project root>/mlartifacts`` unless a tracking server keeps them."""
    import mlflow

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        if stores_its_own_artifacts(mlflow.get_tracking_uri()):
            return client.create_experiment(name)
        root = project_root or Path.cwd()
        location = new_artifact_location(root, name, config_loader)
        return client.create_experiment(name, artifact_location=location)
    if experiment.lifecycle_stage != "active":
        raise ExperimentError(
            f"the experiment '{name}' is deleted; restore it "
            "(MlflowClient().restore_experiment) or choose another name"
        )
    return experiment.experiment_id


def stores_its_own_artifacts(tracking_uri: str) -> bool:
    """A tracking server (or Databricks) keeps artifacts where it chooses; a local folder on
    this machine would make the model unloadable from anywhere else."""
    return urlparse(tracking_uri).scheme in ("http", "https", "databricks")


def new_artifact_location(project_root: Path, experiment: str, config_loader: Any = None) -> str:
    """Where a new experiment keeps its artifacts. In a kedro-mlflow project (an mlflow.yml in
    conf), the project's convention: ``tracking.experiment.create_experiment_kwargs.
    artifact_location`` when set (a relative path from the project root, as kedro-mlflow reads
    it), else the store's default folder as ``kedro run`` opens it, ``<project root>/mlruns``
    (one folder per experiment below it). Elsewhere ``<project root>/mlartifacts``."""
    settings = mlflow_settings(project_root)
    if not settings:
        return (project_root / "mlartifacts").resolve().as_uri()
    experiment_settings = (settings.get("tracking") or {}).get("experiment") or {}
    configured = (experiment_settings.get("create_experiment_kwargs") or {}).get(
        "artifact_location"
    )
    if configured:
        configured = str(configured)
        if urlparse(configured).scheme not in ("", "file") and len(urlparse(configured).scheme) > 1:
            return configured
        path = Path(configured.removeprefix("file://"))
        return (path if path.is_absolute() else project_root / path).resolve().as_uri()
    folder = re.sub(r"[^A-Za-z0-9_.-]+", "_", experiment).strip("._") or "experiment"
    return (project_root / "mlruns" / folder).resolve().as_uri()


FILE_STORE_REFUSAL = "MLFLOW_ALLOW_FILE_STORE"


def file_store_refusal(error: BaseException, project_root: Path | None) -> str | None:
    """One line for MLflow 3's refusal of its file store during a session's start (kedro-mlflow's
    default ``mlflow_tracking_uri: null`` means ./mlruns): the file and the fix; None for any
    other error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if FILE_STORE_REFUSAL in str(current) and "filesystem tracking backend" in str(current):
            break
        current = current.__cause__ or current.__context__
    else:
        return None
    root = project_root or Path.cwd()
    path = mlflow_yml_path(root)
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return (
        f"MLflow 3 refuses the file store (./mlruns) that kedro-mlflow uses when {shown} sets "
        "no tracking URI (mlflow_tracking_uri: null); set `server.mlflow_tracking_uri: "
        f"sqlite:///{(root / 'mlruns.db').as_posix()}` in {shown}, or set the environment "
        f"variable {FILE_STORE_REFUSAL}=true to keep the file store"
    )
