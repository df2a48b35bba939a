"""Pinned requirements of a model, read from what its code imports (no subprocess inference)."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

# What loading and predicting always import: the runtime and the datasets re-created at load.
BASE_DISTRIBUTIONS = ("mlflow", "kedro", "kedro-datasets", "pandas", "numpy")
# Engines that dataset types import lazily, by a word in the type's name.
DATASET_ENGINES = {"Parquet": "pyarrow", "Feather": "pyarrow", "Excel": "openpyxl"}


# Import names that differ from their distribution's name, for the common libraries of the field.
KNOWN_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "PyYAML",
    "PIL": "Pillow",
    "cv2": "opencv-python",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "attr": "attrs",
    "Levenshtein": "levenshtein",
}


@cache
def module_distributions() -> dict[str, list[str]]:
    """Every installed distribution's top-level modules: reads every RECORD file (slow, once)."""
    return importlib.metadata.packages_distributions()


def installed(distribution: str) -> str | None:
    try:
        return importlib.metadata.distribution(distribution).metadata["Name"]
    except importlib.metadata.PackageNotFoundError:
        return None


def distribution_of(top_level_module: str) -> str | None:
    """The installed distribution that provides a top-level module: by its name or a known
    alias first (fast), else by scanning what every distribution installed."""
    found = installed(top_level_module)
    if found is None and top_level_module in KNOWN_DISTRIBUTIONS:
        found = installed(KNOWN_DISTRIBUTIONS[top_level_module])
    if found is not None:
        return found
    names = module_distributions().get(top_level_module)
    return names[0] if names else None


def pin(distribution: str) -> str | None:
    try:
        return f"{distribution}=={importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return None


def imports_of(source: str, module_name: str, is_package: bool) -> set[str]:
    """Absolute names of the modules a source file imports (relative imports resolved)."""
    package = module_name if is_package else module_name.rpartition(".")[0]
    found: set[str] = set()
    for statement in ast.walk(ast.parse(source)):
        if isinstance(statement, ast.Import):
            found.update(alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            if statement.level:
                base_parts = package.split(".")
                base = ".".join(base_parts[: len(base_parts) - statement.level + 1])
                target = f"{base}.{statement.module}" if statement.module else base
            else:
                target = statement.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in statement.names)
    return {name for name in found if name}


def third_party_modules(start_modules: Iterable[str], shipped_packages: set[str]) -> set[str]:
    """Top-level third-party modules imported by ``start_modules`` and, transitively, by the
    modules of the shipped packages they import."""
    seen: set[str] = set()
    queue = list(start_modules)
    third_party: set[str] = set()
    while queue:
        module_name = queue.pop()
        if module_name in seen:
            continue
        seen.add(module_name)
        try:
            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        source = Path(spec.origin).read_text(encoding="utf-8")
        is_package = spec.submodule_search_locations is not None
        for imported in imports_of(source, module_name, is_package):
            top = imported.split(".")[0]
            if top in shipped_packages:
                queue.append(imported)
            elif top not in sys.stdlib_module_names:
                third_party.add(top)
    return third_party


def pinned_requirements(
    node_modules: Iterable[str],
    shipped_packages: set[str],
    artifact_types: Iterable[str] = (),
    artifact_objects: Iterable[object] = (),
) -> list[str]:
    """``name==version`` for everything loading and predicting the model imports."""
    distributions = list(BASE_DISTRIBUTIONS)
    modules = third_party_modules(node_modules, shipped_packages)
    modules.update(type(value).__module__.split(".")[0] for value in artifact_objects)
    for dataset_type in artifact_types:
        modules.add(dataset_type.split(".")[0])
        distributions += [
            engine for word, engine in DATASET_ENGINES.items() if word in dataset_type
        ]
    for module in sorted(modules - shipped_packages):
        distribution = distribution_of(module)
        if distribution:
            distributions.append(distribution)
    pinned: dict[str, str] = {}
    for distribution in distributions:
        key = distribution.lower().replace("_", "-")
        if key not in pinned and (requirement := pin(distribution)):
            pinned[key] = requirement
    return sorted(pinned.values(), key=str.lower)
