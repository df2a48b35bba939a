"""Staging what a model ships: the artifacts' files (or frozen values) and the project's source."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DataCatalog
from kedro.pipeline import Pipeline

from kedro_mlflow_magic import runtime
from kedro_mlflow_magic.errors import ArtifactCopyError, IncludeError
from kedro_mlflow_magic.inspect.mlflow_models import MLMODEL_FILE, InnerDataset, ModelSource
from kedro_mlflow_magic.project import find_project_root
from kedro_mlflow_magic.quiet import load_quietly
from kedro_mlflow_magic.inspect.roles import Artifact
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
        root = find_project_root(location)
        if root is not None:
            return root
    return find_project_root(Path.cwd())


# ---- the project's source: only code ships, plus the files the user names (include) --------

# The folder of the staging area that holds the clean copy of the project's source (artifact
# folders never take this name).
CODE_FOLDER = "code"
CACHE_FOLDERS = frozenset({"__pycache__"})


def is_hidden_or_cache(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part in CACHE_FOLDERS for part in parts)


def source_files(location: Path) -> list[Path]:
    """The Python source of a shipped package (its ``.py`` files, relative to the package
    folder), outside hidden folders and caches; a single-module package is its own file."""
    if location.is_file():
        return [Path(location.name)] if location.suffix == ".py" else []
    return sorted(
        path.relative_to(location)
        for path in location.rglob("*.py")
        if path.is_file() and not is_hidden_or_cache(path.relative_to(location).parts)
    )


@dataclass(frozen=True)
class IncludedFile:
    """A file a node reads from its package folder, shipped because the user named it."""

    package: str
    relative: PurePosixPath
    source: Path

    @property
    def name(self) -> str:
        """Its path inside the model's ``code/`` folder, as the manifest lists it."""
        return f"{self.package}/{self.relative}"


def resolve_includes(
    packages: dict[str, Path], include: tuple[str, ...] | list[str]
) -> list[IncludedFile]:
    """The files ``include`` names, each path relative to the folder of the project's package
    (``src/<package>/``); a folder stands for the files in it. IncludeError names a path that
    is missing, outside the package folder or hidden (a dot-file never ships)."""
    if isinstance(include, str):
        include = [include]
    folders = {name: path for name, path in packages.items() if path.is_dir()}
    included: dict[str, IncludedFile] = {}
    for given in include:
        if not folders:
            raise IncludeError(
                f"include '{given}': the pipeline's nodes come from no project package folder, "
                "so there is nothing to add it to"
            )
        where = " or ".join(str(folder) for folder in folders.values())
        relative = PurePosixPath(Path(given).as_posix())
        if relative.is_absolute() or ".." in relative.parts:
            raise IncludeError(
                f"include '{given}' is outside the package folder {where}; give a path "
                "relative to it (only files inside the package ship with the model)"
            )
        if is_hidden_or_cache(relative.parts):
            raise IncludeError(
                f"include '{given}' is a hidden file or a cache; models never ship dot-files "
                "(they often hold secrets) nor caches: rename it if a node must read it"
            )
        found = [(name, folder / relative) for name, folder in folders.items()]
        found = [(name, path) for name, path in found if path.exists()]
        if not found:
            raise IncludeError(
                f"include '{given}': no such file in the package folder {where}; "
                "paths are relative to the package folder (src/<package>/)"
            )
        package, path = found[0]
        root = folders[package].resolve()
        if not path.resolve().is_relative_to(root):
            raise IncludeError(
                f"include '{given}' leads outside the package folder {root} (a link); "
                "copy the file into the package folder"
            )
        files = (
            [path]
            if path.is_file()
            else sorted(
                item
                for item in path.rglob("*")
                if item.is_file() and not is_hidden_or_cache(item.relative_to(path).parts)
            )
        )
        for file in files:
            entry = IncludedFile(package, PurePosixPath(file.relative_to(folders[package])), file)
            included.setdefault(entry.name, entry)
    return list(included.values())


def stage_code(
    packages: dict[str, Path], included: list[IncludedFile], staging: Path
) -> list[Path]:
    """A clean copy of the project's packages under ``staging/code/``: their Python source and
    the included files, nothing else. Returns the paths to give MLflow as ``code_paths``."""
    code = staging / CODE_FOLDER
    code.mkdir()
    code_paths = []
    for package, location in packages.items():
        if location.is_file():
            target = code / location.name
            link_or_copy(str(location), target)
            code_paths.append(target)
            continue
        target = code / location.name
        target.mkdir()
        for relative in source_files(location):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(str(location / relative), target / relative)
        for entry in included:
            if entry.package == package:
                destination = target / entry.relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                if not destination.exists():
                    link_or_copy(str(entry.source), destination)
        code_paths.append(target)
    return code_paths


RUNTIME_PACKAGE = Path(runtime.__file__).parent
# the file MLflow runs to load a model (models from code), beside the shipped runtime
ENTRY_FILE = "kedro_pipeline_model.py"
ENTRY_TEMPLATE = '''"""What MLflow runs to load this model (a model from code): the pipeline runtime shipped
beside it in code/{package}, which imports nothing of kedro_mlflow_magic."""

import mlflow

from {package}.model import PipelineModel

mlflow.models.set_model(PipelineModel())
'''


@functools.cache
def shipped_runtime_name() -> str:
    """The name the runtime package ships under: derived from its content, so that a model
    runs its own runtime even where another release's is imported (a module in ``sys.modules``
    wins over a model's ``code_paths``), and two models with one name run the same code."""
    digest = hashlib.blake2b(digest_size=6)
    for path in sorted(RUNTIME_PACKAGE.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"kedro_mlflow_magic_runtime_{digest.hexdigest()}"


def stage_runtime(staging: Path) -> tuple[Path, Path]:
    """The runtime's source (its ``.py`` files only) under its shipped name, and the entry
    file that loads it. Returns (entry file, package folder) for MLflow's ``python_model``
    and ``code_paths``."""
    package = staging / ".runtime" / shipped_runtime_name()
    package.mkdir(parents=True)
    for path in RUNTIME_PACKAGE.glob("*.py"):
        shutil.copy2(path, package / path.name)
    entry = staging / ".runtime" / ENTRY_FILE
    entry.write_text(ENTRY_TEMPLATE.format(package=package.name))
    return entry, package


@contextlib.contextmanager
def runtime_importable(package: Path) -> Iterator[None]:
    """While MLflow logs the model (it runs the entry file once, at save time), the staged
    runtime is importable; afterwards it is forgotten, so that loading the logged model
    imports the copy inside it."""
    sys.path.insert(0, str(package.parent))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(package.parent))
        for name in [name for name in sys.modules if name.partition(".")[0] == package.name]:
            del sys.modules[name]
