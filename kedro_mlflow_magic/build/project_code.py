"""The project's own code that a model's nodes import (docs/guides/what-ships.md): the project
package, packages and modules beside it in the source folder, and modules elsewhere on the path
that no installed distribution provides. Found from what the nodes really import: the imports
read from the node modules' source, followed through the project's modules, and the project's
modules first loaded while the pipeline ran (an import made by a computed name). Installed
distributions are requirements, never code; the project's own distribution (installed with
``pip install -e .``) is never a requirement."""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import site
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from kedro.pipeline import Pipeline

from kedro_mlflow_magic.build.requirements import imports_of
from kedro_mlflow_magic.project import find_project_root

# This package never ships: the runtime a model runs ships under a name of its own.
OUR_PACKAGE = __name__.partition(".")[0]


@cache
def installed_folders() -> tuple[Path, ...]:
    """Where Python and installed distributions live: the standard library and every
    site-packages folder (a module there is no project's)."""
    paths = sysconfig.get_paths()
    folders = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    folders.update(site.getsitepackages())
    folders.add(site.getusersitepackages())
    return tuple(Path(folder).resolve() for folder in folders)


def is_installed(location: Path) -> bool:
    if "site-packages" in location.parts or "dist-packages" in location.parts:
        return True
    resolved = location.resolve()
    return any(resolved.is_relative_to(folder) for folder in installed_folders())


@dataclass(frozen=True)
class EditableDistribution:
    """A distribution installed in editable mode (``pip install -e``): its source folder and the
    top-level modules it declares."""

    name: str
    folder: Path
    top_levels: frozenset[str]

    def provides(self, top: str, location: Path) -> bool:
        if self.top_levels:
            return top in self.top_levels
        return location.resolve().is_relative_to(self.folder)


@cache
def editable_distributions() -> tuple[EditableDistribution, ...]:
    """The distributions installed here in editable mode (PEP 610's ``direct_url.json``): their
    modules sit outside site-packages, yet they are distributions, not a project's code."""
    found = []
    for distribution in importlib.metadata.distributions():
        with contextlib.suppress(ValueError, OSError):
            direct = json.loads(distribution.read_text("direct_url.json") or "{}")
            url = urlsplit(direct.get("url", ""))
            if url.scheme != "file" or not direct.get("dir_info", {}).get("editable"):
                continue
            top_levels = frozenset((distribution.read_text("top_level.txt") or "").split())
            folder = Path(unquote(url.path)).resolve()
            found.append(EditableDistribution(distribution.metadata["Name"], folder, top_levels))
    return tuple(found)


def canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def declared_name(root: Path | None) -> str | None:
    """The distribution name a project's pyproject.toml declares (``[project] name``)."""
    pyproject = root / "pyproject.toml" if root is not None else None
    if pyproject is None or not pyproject.is_file():
        return None
    try:
        import tomllib
    except ImportError:  # Python 3.10: the editable installs still tell
        return None
    with contextlib.suppress(ValueError, OSError):
        name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
        return canonical(name) if isinstance(name, str) else None
    return None


def own_distributions(root: Path | None, package: str | None) -> frozenset[str]:
    """The canonical names of the project's own distribution, however it is installed: the one
    its pyproject.toml declares, and an editable install of its folder or of its package."""
    names = set()
    if (name := declared_name(root)) is not None:
        names.add(name)
    resolved = root.resolve() if root is not None else None
    for distribution in editable_distributions():
        if (resolved is not None and distribution.folder.is_relative_to(resolved)) or (
            package is not None and package in distribution.top_levels
        ):
            names.add(canonical(distribution.name))
    return frozenset(names)


def top_location(top: str) -> Path | None:
    """The file of a top-level module or the folder of a top-level package, as imported here
    (without importing it when it is not yet); None for a built-in or compiled module."""
    module = sys.modules.get(top)
    spec = getattr(module, "__spec__", None) if module is not None else None
    if spec is None:
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            return None
    if spec is None:
        return None
    if spec.submodule_search_locations is not None:
        if spec.has_location and spec.origin:
            return Path(spec.origin).parent
        locations = list(spec.submodule_search_locations)
        return Path(locations[0]) if locations else None  # a namespace package
    if spec.has_location and spec.origin and spec.origin.endswith(".py"):
        return Path(spec.origin)
    return None


def module_source(name: str, location: Path) -> tuple[Path, bool] | None:
    """The source file of module ``name`` inside the top-level ``location`` and whether it is
    a package, found from the folders alone (no import); None for a name that is no module
    (``from pkg import function``)."""
    parts = name.split(".")[1:]
    if location.is_file():
        return (location, False) if not parts else None
    base = location.joinpath(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py", True
    if parts and base.with_suffix(".py").is_file():
        return base.with_suffix(".py"), False
    return None


class ProjectCode:
    """Which top-level modules are the project's own code (they ship) and which are not
    (their distributions are requirements)."""

    def __init__(self, root: Path | None, package: str | None) -> None:
        self.root = root
        self.own = own_distributions(root, package)
        self.decided: dict[str, Path | None] = {}

    def location(self, top: str) -> Path | None:
        """Where the project's top-level module ``top`` is, or None when it is not the
        project's (the standard library, an installed or editable distribution, this package)."""
        if top not in self.decided:
            self.decided[top] = self.decide(top)
        return self.decided[top]

    def decide(self, top: str) -> Path | None:
        if top in sys.stdlib_module_names or top in ("__main__", OUR_PACKAGE):
            return None
        location = top_location(top)
        if location is None or is_installed(location):
            return None
        for distribution in editable_distributions():
            if canonical(distribution.name) not in self.own and distribution.provides(
                top, location
            ):
                return None
        return location

    def packages(self, start: Iterable[str]) -> dict[str, Path]:
        """The project's top-level modules that ``start`` modules import, directly or through
        other modules of the project, each with its location; in the order first met."""
        packages: dict[str, Path] = {}
        queue, seen = list(start), set()
        while queue:
            name = queue.pop(0)
            if name in seen:
                continue
            seen.add(name)
            # importing a.b.c runs a/__init__.py and a/b/__init__.py first
            parts = name.split(".")
            queue.extend(".".join(parts[:end]) for end in range(1, len(parts)))
            top = parts[0]
            location = self.location(top)
            if location is None:
                continue
            packages.setdefault(top, location)
            source = module_source(name, location)
            if source is not None:
                path, is_package = source
                with contextlib.suppress(SyntaxError, UnicodeDecodeError, OSError):
                    queue.extend(sorted(imports_of(path.read_text("utf-8"), name, is_package)))
        return packages


def node_modules(pipeline: Pipeline) -> list[str]:
    """The modules of the node functions, in the pipeline's order."""
    return list(dict.fromkeys(node.func.__module__ for node in pipeline.nodes))


def project_packages(
    pipeline: Pipeline, loaded: Iterable[str] = (), project_path: Path | None = None
) -> dict[str, Path]:
    """The project's top-level packages and modules the model ships: those the node modules
    import (read from the source, through the project's own modules), and those of the
    ``loaded`` modules (first imported while the pipeline ran) that are the project's. The
    node functions' own packages come first."""
    starts = node_modules(pipeline)
    first = starts[0].partition(".")[0] if starts else None
    location = top_location(first) if first else None
    root = project_path or (find_project_root(location) if location is not None else None)
    return ProjectCode(root, first).packages([*starts, *sorted(loaded)])


@contextlib.contextmanager
def modules_loaded(into: set[str]) -> Iterator[set[str]]:
    """Collect into ``into`` the names of the modules first imported inside the block (a node
    importing by a computed name at call time)."""
    before = set(sys.modules)
    try:
        yield into
    finally:
        into.update(set(sys.modules) - before)


def include_for(module: str, packages: dict[str, Path]) -> str | None:
    """The ``include`` path that ships the project's module ``module`` (relative to the project
    package's folder, e.g. ``../datamanager``), when it lies in the project's source folder;
    None otherwise."""
    folder = next((path for path in packages.values() if path.is_dir()), None)
    location = top_location(module.partition(".")[0])
    if folder is None or location is None or is_installed(location):
        return None
    if not location.resolve().is_relative_to(folder.resolve().parent):
        return None
    return Path(os.path.relpath(location.resolve(), folder.resolve())).as_posix()
