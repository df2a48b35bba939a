"""Staging the code a model ships: the project's packages that the nodes import (found by
``project_code``), files the user includes by name, and the runtime that executes the
manifest."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kedro.pipeline import Pipeline

from kedro_mlflow_magic import runtime
from kedro_mlflow_magic.build.project_code import project_packages
from kedro_mlflow_magic.build.staging import link_or_copy
from kedro_mlflow_magic.errors import IncludeError
from kedro_mlflow_magic.project import find_project_root


def shipped_packages(
    pipeline: Pipeline, loaded: Iterable[str] = (), project_path: Path | None = None
) -> dict[str, Path]:
    """The project's own top-level packages and modules that the nodes import, shipped inside
    the model (``project_code.project_packages``): the node functions' packages first."""
    return project_packages(pipeline, loaded, project_path)


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
    """A file from the project's source folder, shipped because the user named it: its place
    in the model's code folder (which mirrors the source folder) is ``package/relative``."""

    package: str  # the top-level entry of the code folder it ships under ("" for a file there)
    relative: PurePosixPath
    source: Path

    @property
    def name(self) -> str:
        """Its path inside the model's ``code/`` folder, as the manifest lists it."""
        return f"{self.package}/{self.relative}" if self.package else str(self.relative)

    @property
    def module(self) -> str:
        """The top-level module name it ships under, when it is Python code."""
        return (self.package or str(self.relative)).removesuffix(".py")


def resolve_includes(
    packages: dict[str, Path], include: tuple[str, ...] | list[str]
) -> list[IncludedFile]:
    """The files ``include`` names, each path relative to the folder of the project's package
    (``src/<package>/``) and inside the project's source folder (``src/``): ``data/x.json``
    inside the package, ``../datamanager`` beside it. A folder stands for the files in it.
    IncludeError names a path that is missing, outside the source folder or hidden (a dot-file
    never ships). See docs/guides/what-ships.md."""
    if isinstance(include, str):
        include = [include]
    folders = [path for path in packages.values() if path.is_dir()]
    included: dict[str, IncludedFile] = {}
    for given in include:
        for entry in included_files(given, folders):
            included.setdefault(entry.name, entry)
    return list(included.values())


def included_files(given: str, folders: list[Path]) -> list[IncludedFile]:
    """The files one ``include`` path names, placed as they sit in the source folder."""
    if not folders:
        raise IncludeError(
            f"include '{given}': the pipeline's nodes come from no project package folder, "
            "so there is nothing to add it to"
        )
    parts = PurePosixPath(Path(given).as_posix()).parts
    if is_hidden_or_cache(tuple(part for part in parts if part not in (".", ".."))):
        raise IncludeError(
            f"include '{given}' is a hidden file or a cache; models never ship dot-files "
            "(they often hold secrets) nor caches: rename it if a node must read it"
        )
    places = [(folder, Path(os.path.normpath(folder / given))) for folder in folders]
    inside = [(folder, path) for folder, path in places if path.is_relative_to(folder.parent)]
    if not inside:
        raise IncludeError(
            f"include '{given}' is outside the project's source folder {folders[0].parent}; "
            f"give a path relative to the package folder {folders[0]} that stays inside the "
            "source folder (data/lookup.json inside it, ../NAME beside it)"
        )
    found = [(folder, path) for folder, path in inside if path.exists()]
    if not found:
        raise IncludeError(
            f"include '{given}': no such file in the package folder {folders[0]}; paths are "
            "relative to the package folder (src/<package>/), ../NAME names what is beside it"
        )
    folder, path = found[0]
    source = folder.parent.resolve()
    if not path.resolve().is_relative_to(source):
        raise IncludeError(
            f"include '{given}' leads outside the project's source folder {source} (a link); "
            "copy the file into the source folder"
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
    entries = []
    for file in files:
        place = PurePosixPath(file.relative_to(folder.parent).as_posix())
        if len(place.parts) == 1:
            entries.append(IncludedFile("", place, file))
        else:
            entries.append(IncludedFile(place.parts[0], place.relative_to(place.parts[0]), file))
    return entries


def stage_code(
    packages: dict[str, Path], included: list[IncludedFile], staging: Path
) -> list[Path]:
    """A clean copy of the project's packages under ``staging/code/``: their Python source and
    the included files (placed as they sit in the source folder), nothing else. Returns the
    paths to give MLflow as ``code_paths``."""
    code = staging / CODE_FOLDER
    code.mkdir()
    code_paths = []
    for location in packages.values():
        target = code / location.name
        if location.is_file():
            link_or_copy(str(location), target)
            code_paths.append(target)
            continue
        target.mkdir()
        for relative in source_files(location):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(str(location / relative), target / relative)
        code_paths.append(target)
    for entry in included:
        destination = code / entry.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not destination.exists():
            link_or_copy(str(entry.source), destination)
        top = code / PurePosixPath(entry.name).parts[0]
        if top not in code_paths:
            code_paths.append(top)
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
