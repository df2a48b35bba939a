"""Staging the code a model ships: the project's packages that the nodes import, files the user
includes by name, and the runtime that executes the manifest."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kedro.pipeline import Pipeline

from kedro_mlflow_magic import runtime
from kedro_mlflow_magic.build.staging import link_or_copy
from kedro_mlflow_magic.errors import IncludeError
from kedro_mlflow_magic.project import find_project_root


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
