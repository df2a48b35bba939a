"""Pinned requirements of a model, read from what its code imports and what its artifacts
hold (no subprocess inference, no second load of an artifact)."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import pickletools
import sys
import types
import typing
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from packaging.specifiers import SpecifierSet

from kedro_mlflow_magic.errors import RequirementError

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


# Functions that import a module named by a string: ``importlib.import_module("x")``,
# ``import_module("x")`` (from importlib) and ``__import__("x")``.
IMPORT_CALLS = frozenset({"import_module", "__import__"})


def imported_by_call(call: ast.Call) -> str | None:
    """The module a call such as ``importlib.import_module("pkg.mod")`` or ``__import__("pkg")``
    imports, when its first argument is a literal absolute name; None otherwise (a name
    computed at run time cannot be read, a relative one is the project's own)."""
    function = call.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    if name not in IMPORT_CALLS or not call.args:
        return None
    argument = call.args[0]
    if not isinstance(argument, ast.Constant) or not isinstance(argument.value, str):
        return None
    module = argument.value.strip()
    return module if module and not module.startswith(".") else None


def imports_of(source: str, module_name: str, is_package: bool) -> set[str]:
    """Absolute names of the modules a source file imports (relative imports resolved),
    including those named by a literal in ``importlib.import_module(...)`` / ``__import__``."""
    package = module_name if is_package else module_name.rpartition(".")[0]
    found: set[str] = set()
    for statement in ast.walk(ast.parse(source)):
        if isinstance(statement, ast.Call):
            if (called := imported_by_call(statement)) is not None:
                found.add(called)
        elif isinstance(statement, ast.Import):
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


# What a dataset class may declare it loads that names no one class.
UNKNOWN_TYPES = (typing.Any, typing.Union, types.UnionType)


def declared_load_module(dataset_class: type) -> str | None:
    """The module of the type a Kedro dataset class declares it loads (the second argument of
    ``AbstractDataset[SaveType, LoadType]`` in its bases); None when it declares no class
    (``Any``, a union, a type variable)."""
    from kedro.io import AbstractDataset

    for cls in dataset_class.__mro__:
        for base in cls.__dict__.get("__orig_bases__", ()):
            origin, arguments = typing.get_origin(base), typing.get_args(base)
            if not (isinstance(origin, type) and issubclass(origin, AbstractDataset)):
                continue
            if len(arguments) != 2 or isinstance(arguments[1], typing.TypeVar):
                continue  # generic here: a subclass's bases say more, else a base class's
            loaded = typing.get_origin(arguments[1]) or arguments[1]  # dict[str, Any]: a dict
            if loaded in UNKNOWN_TYPES or not isinstance(loaded, type):
                return None
            return loaded.__module__
    return None


# Opcodes that may precede the class of a pickle's top object: the protocol, framing, the
# module and class names (pushed as strings for STACK_GLOBAL) and their memoisation.
PICKLE_PRELUDE = frozenset({"PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"})
PICKLE_STRINGS = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING"}
)


def pickled_module(path: Path) -> str | None:
    """The module of the class of the object a pickle file holds, read from the first opcodes
    of its stream without unpickling it: ``builtins`` when the object is built from opcodes
    (a dict, a list, a number...). None when the file is not a pickle of protocol 2 or later
    (it starts with PROTO), e.g. a compressed one."""
    try:
        with path.open("rb") as stream:
            strings: list[str] = []
            for index, (opcode, argument, _position) in enumerate(pickletools.genops(stream)):
                if index == 0 and opcode.name != "PROTO":
                    return None
                if opcode.name == "STOP":  # a string, bytes or None alone
                    return "builtins"
                if opcode.name in ("GLOBAL", "INST"):
                    return str(argument).split(" ")[0]
                if opcode.name == "STACK_GLOBAL":
                    return strings[-2] if len(strings) >= 2 else None
                if opcode.name in PICKLE_STRINGS:
                    strings.append(str(argument))
                elif opcode.name not in PICKLE_PRELUDE:
                    return "builtins"
    except (OSError, ValueError):
        return None
    return None


def staged_value_module(dataset_class: type, staged_file: Path) -> str | None:
    """The module of the type an artifact's value has, from what its staged entry says: the
    type its dataset class declares it loads, else the class its pickle holds; None when
    neither tells (then only loading it would)."""
    module = declared_load_module(dataset_class)
    if module is None and staged_file.is_file():
        module = pickled_module(staged_file)
    return module


def dataset_type_module(dataset_type: str) -> str | None:
    """The module that defines a catalog's dataset type, as Kedro resolves the type
    (``pandas.CSVDataset`` is ``kedro_datasets.pandas.csv_dataset``); None when Kedro cannot
    resolve it here."""
    from kedro.io.core import parse_dataset_definition

    try:
        kind, _ = parse_dataset_definition({"type": dataset_type})
    except Exception:  # an unknown type: the catalog's own error says it elsewhere
        return None
    return kind.__module__


def pinned_requirements(
    node_modules: Iterable[str],
    shipped_packages: set[str],
    artifact_types: Iterable[str] = (),
    artifact_modules: Iterable[str] = (),
    excluded: Iterable[str] = (),
) -> list[str]:
    """``name==version`` for everything loading and predicting the model imports:
    ``artifact_modules`` are the modules of the artifacts' value types; ``excluded`` names
    distributions never listed (the project's own, whose code ships)."""
    distributions = list(BASE_DISTRIBUTIONS)
    artifact_types = list(artifact_types)
    # the dataset types' own modules are read too: what a type imports loads with it (a
    # project's own dataset type importing a library, a kedro-datasets type its engine)
    type_modules = {dataset_type_module(dataset_type) for dataset_type in artifact_types}
    type_modules.discard(None)
    modules = third_party_modules([*node_modules, *sorted(type_modules)], shipped_packages)
    modules.update(module.split(".")[0] for module in artifact_modules)
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
    never = {name.lower().replace("_", "-") for name in excluded}
    for distribution in distributions:
        key = distribution.lower().replace("_", "-")
        if key not in pinned and key not in never and (requirement := pin(distribution)):
            pinned[key] = requirement
    return sorted(pinned.values(), key=str.lower)


def requirement_added(text: str) -> str:
    """A requirement added by hand, as the model lists it: a bare name (``scikit-learn``,
    ``pkg[extra]``) pinned to the version installed here, a specifier or URL kept as given.
    ``RequirementError`` when it is not a requirement, or a bare name not installed here."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(text.strip())
    except InvalidRequirement as error:
        reason = str(error).splitlines()[0]  # packaging adds the text and a caret below
        raise RequirementError(
            f"requirement {text!r} is not a requirement ({reason}); give a package name "
            "(scikit-learn) or a specifier (scikit-learn>=1.3)"
        ) from None
    if requirement.specifier or requirement.url:
        return str(requirement)
    try:
        here = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        raise RequirementError(
            f"requirement '{requirement.name}' is not installed here, so it cannot be pinned "
            f"to the installed version; install it, or give a version ({requirement.name}==X.Y)"
        ) from None
    requirement.specifier = SpecifierSet(f"=={here}")
    return str(requirement)


def requirement_name(line: str) -> str:
    """The canonical distribution name of a requirement line (``scikit_learn==1.5`` ->
    ``scikit-learn``)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        return canonicalize_name(Requirement(line).name)
    except InvalidRequirement:  # a line pip takes that is no requirement (-r, --index-url)
        return line


def with_added_requirements(requirements: list[str], added: Iterable[str]) -> list[str]:
    """The model's requirements with those added by hand: an added one replaces the scanned
    line of the same distribution (what the user wrote wins)."""
    added = list(added)
    replaced = {requirement_name(line) for line in added}
    kept = [line for line in requirements if requirement_name(line) not in replaced]
    return sorted([*kept, *added], key=str.lower)
