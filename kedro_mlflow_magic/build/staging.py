"""Staging what a model ships of the project's data: the artifacts' files (or frozen values),
copied byte for byte, local or remote, and MLflow models among them."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DataCatalog

from kedro_mlflow_magic.errors import ArtifactCopyError
from kedro_mlflow_magic.inspect.mlflow_models import MLMODEL_FILE, InnerDataset, ModelSource
from kedro_mlflow_magic.inspect.roles import Artifact
from kedro_mlflow_magic.quiet import load_quietly
from kedro_mlflow_magic.runtime import ArtifactEntry

FROZEN_FILE = "value.pkl"


def artifact_key(name: str, taken: set[str]) -> str:
    """A folder name for the artifact inside the model: safe whatever the dataset's name."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "artifact"
    key, index = base, 2
    while key in taken:
        key, index = f"{base}_{index}", index + 1
    taken.add(key)
    return key


def link_or_copy(source: str, destination: str | Path) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def copy_path(source: str, destination: Path) -> None:
    """Hard-link (or copy) a file or folder into the staging area."""
    if os.path.isdir(source):
        shutil.copytree(source, destination, copy_function=link_or_copy)
    else:
        link_or_copy(source, destination)


# fs_args that say how a file is opened (they serve a local copy too); the rest of fs_args
# configures the remote filesystem only.
OPEN_ARGS = ("open_args_load", "open_args_save")


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def local_settings(config: dict[str, Any]) -> dict[str, Any]:
    """A remote dataset's settings for reading its local copy: without credentials nor the
    remote filesystem's arguments (endpoints, tokens...), at every level (a partitioned
    dataset's ``dataset`` too)."""
    local: dict[str, Any] = {}
    for key, value in config.items():
        if key == "credentials" or key == "dataset_credentials":
            continue
        if key == "fs_args" and isinstance(value, dict):
            value = {name: args for name, args in value.items() if name in OPEN_ARGS}
            if not value:
                continue
        elif isinstance(value, dict):
            value = local_settings(value)
        local[key] = value
    return local


def remote_filesystem(catalog: DataCatalog, name: str, path: str) -> Any:
    """The fsspec filesystem the dataset ``name`` reads ``path`` with, built as Kedro's
    datasets build theirs: the catalog's credentials and ``fs_args`` (open arguments aside)."""
    import fsspec

    configs, credentials, _versions, _save_version = catalog.to_config()
    config = configs.get(name, {})
    reference = config.get("credentials")
    settings = credentials.get(reference, {}) if isinstance(reference, str) else reference
    fs_args = {
        key: value for key, value in (config.get("fs_args") or {}).items() if key not in OPEN_ARGS
    }
    protocol = fsspec.utils.get_protocol(path)
    return fsspec.filesystem(protocol, **dict(settings or {}), **fs_args)


def copy_remote(name: str, source: str, catalog: DataCatalog, destination: Path) -> None:
    """Copy a remote file or folder to ``destination``, byte for byte."""
    filesystem = remote_filesystem(catalog, name, source)
    try:
        if filesystem.isdir(source):
            # a folder (a partitioned dataset): its content, into a new local folder
            filesystem.get(source.rstrip("/") + "/", f"{destination}/", recursive=True)
        else:
            filesystem.get_file(source, str(destination))
    except OSError as error:
        raise ArtifactCopyError(name, source, error) from error


def stage_artifact(
    artifact: Artifact, catalog: DataCatalog, staging: Path, taken: set[str]
) -> ArtifactEntry:
    """Put the artifact's files (or its frozen value) under ``staging/<key>/`` and return its
    manifest entry."""
    key = artifact_key(artifact.name, taken)
    folder = staging / key
    folder.mkdir()
    if artifact.frozen:
        frozen = AbstractDataset.from_config(
            artifact.name, {"type": artifact.dataset_type, "filepath": str(folder / FROZEN_FILE)}
        )
        frozen.save(load_quietly(catalog, artifact.name))
        return ArtifactEntry(
            dataset=artifact.name, type=artifact.dataset_type, artifact=key, file=FROZEN_FILE,
            path_key="filepath", config={}, frozen=True,
        )  # fmt: skip
    if artifact.mlflow_model is not None:
        return stage_mlflow_model(artifact, artifact.mlflow_model, folder, key)
    config = dict(artifact.config)
    source = str(artifact.path)
    if artifact.from_run is not None:
        # a kedro-mlflow MlflowArtifactDataset reading from a run: its file, from that run
        file_name = os.path.basename(source.rstrip("/")) or "data"
        try:
            fetch_run_file(artifact.from_run, file_name, folder / file_name)
        except Exception as error:
            raise ArtifactCopyError(
                artifact.name, f"run {artifact.from_run.run_id}", error
            ) from error
        return ArtifactEntry(
            dataset=artifact.name, type=artifact.dataset_type, artifact=key, file=file_name,
            path_key=artifact.path_key, config=config, frozen=False,
        )  # fmt: skip
    if config.pop("versioned", False):
        load_version = catalog.get(artifact.name).resolve_load_version()
        source = f"{source.rstrip('/')}/{load_version}/{os.path.basename(source.rstrip('/'))}"
    file_name = os.path.basename(source.rstrip("/")) or "data"
    if is_remote(source):
        # Remote data: the files byte for byte, through a filesystem built from the catalog's
        # settings and credentials (which stay in the session); the model reads a local copy,
        # so what only served the remote filesystem stays out of its manifest.
        copy_remote(artifact.name, source, catalog, folder / file_name)
        config = local_settings(config)
    else:
        try:
            copy_path(source.removeprefix("file://"), folder / file_name)
        except OSError as error:
            raise ArtifactCopyError(artifact.name, source, error) from error
    return ArtifactEntry(
        dataset=artifact.name, type=artifact.dataset_type, artifact=key, file=file_name,
        path_key=artifact.path_key, config=config, frozen=False,
    )  # fmt: skip


def copy_model(source: ModelSource, destination: Path) -> None:
    """The MLflow model's files into ``destination`` (a new folder): hard links of a local
    folder, else a download of the pinned URI from its store."""
    if source.is_local:
        copy_path(source.pinned_uri.removeprefix("file://"), destination)
        return
    import mlflow

    destination.mkdir()
    mlflow.artifacts.download_artifacts(artifact_uri=source.pinned_uri, dst_path=str(destination))
    if not (destination / MLMODEL_FILE).is_file():
        # some stores download into a sub-folder named after the model's artifact path
        (inner,) = [path for path in destination.iterdir() if (path / MLMODEL_FILE).is_file()]
        for path in inner.iterdir():
            path.rename(destination / path.name)
        inner.rmdir()


def fetch_run_file(inner: InnerDataset, file_name: str, destination: Path) -> None:
    """The file an ``MlflowArtifactDataset`` reads from its run (``run_id``), as kedro-mlflow
    downloads it, into ``destination``."""
    import mlflow

    folder = (inner.artifact_path or "").rstrip("/")
    artifact_path = f"{folder}/{file_name}" if folder else file_name
    with tempfile.TemporaryDirectory(prefix="kedro-mlflow-magic-run-file-") as scratch:
        downloaded = mlflow.artifacts.download_artifacts(
            run_id=inner.run_id, artifact_path=artifact_path, dst_path=scratch
        )
        if os.path.isdir(downloaded):
            shutil.copytree(downloaded, destination)
        else:
            shutil.copy2(downloaded, destination)


# the folder an MLflow model artifact's files go to, inside its artifact folder
MLFLOW_MODEL_FOLDER = "mlflow_model"


def stage_mlflow_model(
    artifact: Artifact, source: ModelSource, folder: Path, key: str
) -> ArtifactEntry:
    """An MLflow model's files (copied from its folder, or downloaded from its store at the
    pinned URI) under ``folder``, and its manifest entry: its flavor and its lineage."""
    try:
        copy_model(source, folder / MLFLOW_MODEL_FOLDER)
    except Exception as error:
        raise ArtifactCopyError(artifact.name, source.pinned_uri, error) from error
    return ArtifactEntry(
        dataset=artifact.name, type=artifact.dataset_type, artifact=key,
        file=MLFLOW_MODEL_FOLDER, path_key="", config=dict(artifact.config), frozen=False,
        flavor=source.flavor, source=source.lineage(),
    )  # fmt: skip
