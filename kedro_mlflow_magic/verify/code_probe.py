"""Run by the shipped-code check in a fresh process (``python -I``, its working folder
elsewhere): import every node function of a model from the model's code folder alone, with the
project's folders and this package hidden, and write what happened as JSON. A script on its
own: it imports only the standard library, then the node modules.

The check is about the project's own code: with ``stand_ins``, a library installed in
site-packages is not imported but stood in for by a module that accepts whatever is done with
it at import (its presence where the model serves is what ``check_environment`` checks), so the
check costs the same whatever the libraries (TensorFlow takes seconds to import). A failure
other than a missing module is then checked again with the real libraries.

``python -I code_probe.py REQUEST_FILE REPORT_FILE``; the request holds ``code`` (the model's
code folder), ``hidden`` (folders whose modules must not be imported: the project's),
``installed`` (site-packages folders), ``stand_ins`` (a bool) and ``nodes`` (node name ->
``module:qualname``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import json
import os
import sys
import types
from typing import Any


class StandInType(type):
    """The type of what a stood-in library holds: any attribute, item, call or union of it is
    another stand-in, so that module-level code (base classes, decorators, type hints,
    constants) runs."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return StandIn

    def __getitem__(cls, item: Any) -> Any:
        return cls

    def __or__(cls, other: Any) -> Any:
        return cls

    __ror__ = __or__


class StandIn(metaclass=StandInType):
    """A value of a stood-in library: whatever is done with it gives a stand-in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return StandIn()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return StandIn()

    def __getitem__(self, item: Any) -> Any:
        return StandIn()

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def _same(self, *other: Any) -> Any:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __floordiv__ = __pow__ = __mod__ = __matmul__ = _same
    __or__ = __ror__ = __and__ = __rand__ = __neg__ = __invert__ = _same


class StandInModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return StandIn


class StandInLoader(importlib.abc.Loader):
    def create_module(self, spec: Any) -> Any:
        module = StandInModule(spec.name)
        module.__path__ = []  # a package: its submodules are stood in for too
        return module

    def exec_module(self, module: Any) -> None:
        pass


def stand_in_spec(name: str) -> Any:
    return importlib.util.spec_from_loader(name, StandInLoader(), is_package=True)


def within(path: str, folders: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == folder or real.startswith(folder + os.sep) for folder in folders)


class HideProject:
    """A finder ahead of all others: a top-level module that the other finders would find in
    one of the ``hidden`` folders is not found (the model's code folder excepted)."""

    def __init__(self, hidden: list[str], code: list[str], installed: list[str] | None) -> None:
        self.hidden = hidden
        self.code = code
        self.installed = installed  # stood in for when found there; None: imported

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if "." in name:
            parent = sys.modules.get(name.rpartition(".")[0])
            return stand_in_spec(name) if isinstance(parent, StandInModule) else None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        places = [spec.origin] if spec.has_location and spec.origin else []
        places += list(spec.submodule_search_locations or [])
        if any(within(place, self.hidden) and not within(place, self.code) for place in places):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        if (
            self.installed is not None
            and places
            and all(within(place, self.installed) for place in places)
        ):
            return stand_in_spec(name)
        return spec


def missing_module(error: BaseException) -> str | None:
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ModuleNotFoundError) and current.name:
            return current.name
        current = current.__cause__ or current.__context__
    return None


def probe(request: dict[str, Any]) -> dict[str, Any]:
    code = [os.path.realpath(folder) for folder in request["code"]]
    hidden = [os.path.realpath(folder) for folder in request["hidden"]]
    sys.path[:] = code + [entry for entry in sys.path if not within(entry or os.getcwd(), hidden)]
    installed = [os.path.realpath(folder) for folder in request["installed"]]
    stand_ins = installed if request.get("stand_ins") else None
    sys.meta_path.insert(0, HideProject(hidden, code, stand_ins))
    files: dict[str, str] = {}
    for node, reference in request["nodes"].items():
        module_name, _, qualname = reference.partition(":")
        try:
            target: Any = importlib.import_module(module_name)
            files[module_name] = str(getattr(target, "__file__", ""))
            for part in qualname.split("."):
                target = getattr(target, part)
        except BaseException as error:  # every failure is reported, none raised
            return {
                "ok": False, "node": node, "module": module_name,
                "error": f"{type(error).__name__}: {error}", "missing": missing_module(error),
                "stand_ins": bool(stand_ins),
            }  # fmt: skip
    return {"ok": True, "files": files}


def main(arguments: list[str]) -> int:
    request_file, report_file = arguments
    with open(request_file, encoding="utf-8") as stream:
        request = json.load(stream)
    report = probe(request)
    with open(report_file, "w", encoding="utf-8") as stream:
        json.dump(report, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
