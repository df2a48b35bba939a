"""kedro-mlflow's datasets and MLflow models as artifacts
(docs/explanation/behaviour.md#mlflow-models-as-artifacts).

kedro-mlflow is never imported: its datasets are recognised by their class path and read
through their public attributes. An ``MlflowArtifactDataset`` is the dataset it wraps. An input
whose catalog entry is an MLflow model (kedro-mlflow's three model datasets, or any entry that
names an MLflow model folder or URI together with a ``flavor``) becomes an artifact whose files
are the MLflow model's own, pinned to the version it names when the pipeline is inspected,
loaded with its flavor inside the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

# kedro-mlflow's wrapper: a class made on the fly, ``Mlflow<Inner>``, subclass of the inner type
ARTIFACT_WRAPPER = "MlflowArtifactDataset"
# kedro-mlflow's model datasets, by class name
MODEL_DATASETS = (
    "MlflowModelLocalFileSystemDataset",
    "MlflowModelTrackingDataset",
    "MlflowModelRegistryDataset",
)
URI_SCHEMES = ("models:/", "runs:/")
MLMODEL_FILE = "MLmodel"
REQUIREMENTS_FILE = "requirements.txt"


def is_kedro_mlflow(dataset: Any) -> bool:
    return type(dataset).__module__.partition(".")[0] == "kedro_mlflow"


def is_artifact_wrapper(dataset: Any, config: dict[str, Any]) -> bool:
    """A kedro-mlflow ``MlflowArtifactDataset``: its catalog type says so, or its class is the
    ``Mlflow<Inner>`` subclass kedro-mlflow builds around the inner dataset's type."""
    written = str(config.get("type", ""))
    if written.rsplit(".", 1)[-1] == ARTIFACT_WRAPPER:
        return True
    kind = type(dataset)
    inner = kind.__bases__[0] if kind.__bases__ else object
    return is_kedro_mlflow(dataset) and kind.__name__ == f"Mlflow{inner.__name__}"


def written_config(catalog: Any, name: str) -> dict[str, Any]:
    """The dataset's catalog entry as written (a factory pattern resolved), through Kedro's
    public config resolver; empty for a dataset added in code."""
    resolver = getattr(catalog, "config_resolver", None)
    if resolver is None:
        return {}
    config = resolver.config.get(name)
    if config is None:
        try:
            config = resolver.resolve_pattern(name)
        except Exception:
            return {}
    return dict(config or {})


def without_credentials(config: dict[str, Any]) -> dict[str, Any]:
    return {
        key: without_credentials(value) if isinstance(value, dict) else value
        for key, value in config.items()
        if key not in ("credentials", "dataset_credentials")
    }


@dataclass(frozen=True)
class InnerDataset:
    """What an ``MlflowArtifactDataset`` wraps: the inner type and settings, and the run its
    files are read from (kedro-mlflow downloads them from ``run_id`` when it is set)."""

    config: dict[str, Any]
    run_id: str | None = None
    artifact_path: str | None = None


def inner_dataset(catalog: Any, name: str, dataset: Any) -> InnerDataset | None:
    """The dataset an ``MlflowArtifactDataset`` entry wraps, from its catalog entry (the wrapper
    keeps no trace of the inner settings Kedro could serialise); None when the entry is not
    there (a dataset made in code)."""
    written = written_config(catalog, name)
    inner = written.get("dataset")
    if isinstance(inner, str):
        inner = {"type": inner}
    if not isinstance(inner, dict) or "type" not in inner:
        return None
    run_id = written.get("run_id") or getattr(dataset, "run_id", None)
    artifact_path = written.get("artifact_path") or getattr(dataset, "artifact_path", None)
    return InnerDataset(without_credentials(inner), run_id, artifact_path)


def full_type(dataset_type: str) -> str:
    """A catalog type as Kedro resolves it: ``pickle.PickleDataset`` is kedro_datasets'."""
    from kedro.io.core import parse_dataset_definition

    kind, _ = parse_dataset_definition({"type": dataset_type})
    return f"{kind.__module__}.{kind.__qualname__}"


@dataclass(frozen=True)
class ModelSource:
    """Where an MLflow model artifact comes from, pinned: ``uri`` as the catalog names it,
    ``pinned_uri`` what is copied into the model (an alias or stage resolved to its version),
    its flavor and load arguments, and its lineage (registered name and version, model id,
    run)."""

    uri: str
    pinned_uri: str
    flavor: str
    load_args: dict[str, Any] = field(default_factory=dict)
    registered_name: str | None = None
    version: str | None = None
    model_id: str | None = None
    run_id: str | None = None

    @property
    def is_local(self) -> bool:
        uri = self.pinned_uri
        return not uri.startswith(URI_SCHEMES) and ("://" not in uri or uri.startswith("file://"))

    def lineage(self) -> dict[str, Any]:
        """The manifest's record of where the MLflow model comes from."""
        return {
            "uri": self.uri,
            "pinned_uri": self.pinned_uri,
            "flavor": self.flavor,
            "registered_name": self.registered_name,
            "version": self.version,
            "model_id": self.model_id,
            "run_id": self.run_id,
        }

    def describe(self) -> str:
        """One line for the roles table and the log summary."""
        return describe_lineage(self.lineage())


def describe_lineage(lineage: dict[str, Any]) -> str:
    parts = [f"{lineage['flavor']} model {lineage['uri']}"]
    if lineage.get("registered_name") and lineage.get("version"):
        parts.append(f"{lineage['registered_name']} version {lineage['version']}")
    if lineage.get("model_id"):
        parts.append(f"model id {lineage['model_id']}")
    if lineage.get("run_id") and not lineage.get("model_id"):
        parts.append(f"run {lineage['run_id']}")
    return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


class UnresolvedModel(Exception):
    """An MLflow model entry whose model cannot be found; the message says why."""


def model_location(dataset: Any, config: dict[str, Any]) -> str | None:
    """Where an MLflow model entry's model is: the dataset's ``model_uri`` (kedro-mlflow's
    registry and tracking datasets; the tracking one falls back on the model its run just
    saved), a ``model_uri`` of the entry or of its ``load_args``, else its path."""
    kind = type(dataset).__name__
    if kind in ("MlflowModelRegistryDataset", "MlflowModelTrackingDataset"):
        try:
            uri = dataset.model_uri
        except Exception as error:
            raise UnresolvedModel(
                "names no model: it has no load_args.model_uri and no model was saved through "
                "it in this session"
            ) from error
        return str(uri)
    load_args = config.get("load_args") or {}
    for uri in (config.get("model_uri"), load_args.get("model_uri")):
        if isinstance(uri, str):
            return uri
    for key in ("filepath", "path"):
        if isinstance(config.get(key), str):
            return config[key]
    return None


def is_model_entry(dataset: Any, config: dict[str, Any]) -> bool:
    """Whether a catalog entry is an MLflow model: one of kedro-mlflow's model datasets, or an
    entry with a ``flavor`` (``mlflow.<flavor>``) that names a model folder or URI."""
    if type(dataset).__name__ in MODEL_DATASETS and is_kedro_mlflow(dataset):
        return True
    flavor = config.get("flavor")
    if not isinstance(flavor, str) or not flavor.startswith("mlflow."):
        return False
    try:
        location = model_location(dataset, config)
    except UnresolvedModel:
        return True
    if location is None:
        return False
    return location.startswith(URI_SCHEMES) or os.path.isfile(
        os.path.join(location.removeprefix("file://"), MLMODEL_FILE)
    )


def versioned_folder(dataset: Any, path: str) -> str:
    """A versioned local model folder: the version Kedro would load (``<path>/<version>/``)."""
    version = dataset.resolve_load_version()
    return f"{path.rstrip('/')}/{version}/{os.path.basename(path.rstrip('/'))}"


def resolve_source(dataset: Any, config: dict[str, Any]) -> ModelSource:
    """The pinned source of an MLflow model entry, asking the tracking server or registry
    (the current tracking URI, as the dataset itself would) what an alias, a stage or a model
    id names now. UnresolvedModel says why it cannot."""
    flavor = str(config.get("flavor") or "mlflow.pyfunc")
    load_args = {
        key: value
        for key, value in (config.get("load_args") or {}).items()
        if key not in ("model_uri", "dst_path")
    }
    location = model_location(dataset, config)
    if location is None:
        raise UnresolvedModel("names no model folder nor model URI")
    if not location.startswith(URI_SCHEMES) and "://" not in location:
        if config.get("versioned"):
            location = versioned_folder(dataset, location)
        folder = Path(location)
        if not (folder / MLMODEL_FILE).is_file():
            raise UnresolvedModel(f"has no MLflow model at {location} (no MLmodel file there)")
        model_id, run_id = local_lineage(folder)
        return ModelSource(
            location, str(folder.resolve()), flavor, load_args, model_id=model_id, run_id=run_id
        )
    try:
        return remote_source(location, flavor, load_args)
    except UnresolvedModel:
        raise
    except Exception as error:
        raise UnresolvedModel(
            f"could not find the model {location}: {type(error).__name__}: {error}"
        ) from error


def local_lineage(folder: Path) -> tuple[str | None, str | None]:
    """The model id and run recorded in a local model folder's MLmodel."""
    from mlflow.models import Model

    try:
        model = Model.load(str(folder / MLMODEL_FILE))
    except Exception:
        return None, None
    return getattr(model, "model_id", None), getattr(model, "run_id", None)


def remote_source(uri: str, flavor: str, load_args: dict[str, Any]) -> ModelSource:
    """A ``models:/`` or ``runs:/`` URI pinned: an alias, stage or ``latest`` resolved to the
    version it names now, a model id and run read from the store."""
    import mlflow

    from kedro_mlflow_magic.compat import model_name_and_version

    client = mlflow.MlflowClient()
    if uri.startswith("models:/"):
        found = model_name_and_version(client, uri)
        if len(found) == 1:  # models:/<model id>
            (model_id,) = found
            logged = client.get_logged_model(model_id)
            return ModelSource(
                uri, uri, flavor, load_args, model_id=model_id, run_id=logged.source_run_id
            )
        name, version = found
        model_version = client.get_model_version(name, str(version))
        model_id = getattr(model_version, "model_id", None)
        source = str(getattr(model_version, "source", "") or "")
        if model_id is None and source.startswith("models:/"):
            model_id = source.removeprefix("models:/")  # MLflow 3: the version's logged model
        return ModelSource(
            uri, f"models:/{name}/{version}", flavor, load_args, registered_name=name,
            version=str(version), model_id=model_id, run_id=model_version.run_id,
        )  # fmt: skip
    run_id = uri.removeprefix("runs:/").split("/", 1)[0] if uri.startswith("runs:/") else None
    return ModelSource(uri, uri, flavor, load_args, run_id=run_id)


# ---- requirements of the nested models ------------------------------------------------------


@dataclass(frozen=True)
class MergedRequirements:
    """A nested model's requirements, pinned to what is installed here (what the parity check
    ran with), and the notes of the check against this environment."""

    pinned: list[str]
    notes: list[str]


def model_requirements(folder: Path, artifact: str) -> MergedRequirements:
    """The requirements of the MLflow model in ``folder`` (its ``requirements.txt``), each
    pinned to the installed version; a note for each one pinned to another version there, or
    not installed here."""
    from packaging.requirements import InvalidRequirement, Requirement

    path = folder / REQUIREMENTS_FILE
    if not path.is_file():
        return MergedRequirements([], [])
    pinned: list[str] = []
    notes: list[str] = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        try:
            here = installed_version(requirement.name)
        except PackageNotFoundError:
            pinned.append(str(requirement))
            notes.append(
                f"the MLflow model '{artifact}' requires {requirement}, which is not installed "
                "here: the model lists it as that model does"
            )
            continue
        pinned.append(f"{requirement.name}=={here}")
        if requirement.specifier and not requirement.specifier.contains(here, prereleases=True):
            notes.append(
                f"the MLflow model '{artifact}' was saved with {requirement}; {requirement.name} "
                f"{here} is installed here, which the parity check used and the model pins"
            )
    return MergedRequirements(pinned, notes)


def merge_requirements(ours: list[str], nested: list[str]) -> list[str]:
    """Our pinned requirements and the nested models', one line per distribution (ours first:
    both pin the installed version)."""
    from packaging.utils import canonicalize_name

    merged: dict[str, str] = {}
    for line in [*ours, *nested]:
        name = canonicalize_name(line.split("==", 1)[0].split(";", 1)[0].split("[", 1)[0].strip())
        merged.setdefault(name, line)
    return sorted(merged.values(), key=str.lower)
