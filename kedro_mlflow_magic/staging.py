"""Staging what a model ships: the artifacts' files (or frozen values) and the project's source."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DataCatalog
from kedro.pipeline import Pipeline

from kedro_mlflow_magic import tracking
from kedro_mlflow_magic.errors import ArtifactCopyError
from kedro_mlflow_magic.roles import Artifact, load_quietly
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
    config = dict(artifact.config)
    source = str(artifact.path)
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


def shipped_packages(pipeline: Pipeline) -> dict[str, Path]:
    """The top-level packages of the node functions that live outside site-packages: the
    project's source, shipped inside the model."""
    packages: dict[str, Path] = {}
    for node in pipeline.nodes:
        top = node.func.__module__.split(".")[0]
        if top in packages or top in sys.stdlib_module_names:
            continue
        spec = importlib.util.find_spec(top)
        if spec is None or spec.origin is None:
            continue
        location = (
            Path(spec.origin).parent if spec.submodule_search_locations else Path(spec.origin)
        )
        if "site-packages" in location.parts or "dist-packages" in location.parts:
            continue
        packages[top] = location
    return packages


def project_root_for(packages: dict[str, Path], project_path: str | Path | None) -> Path | None:
    """The Kedro project the pipeline comes from: the path given, else the project around its
    source, else around the current folder."""
    if project_path is not None:
        return Path(project_path).resolve()
    for location in packages.values():
        root = tracking.find_project_root(location)
        if root is not None:
            return root
    return tracking.find_project_root(Path.cwd())
