"""Run by the shipped-code check in a fresh process (``python -I``, its working folder
elsewhere): import every node function of a model from the model's code folder alone, with the
project's folders and this package hidden, and write what happened as JSON. A script on its
own: it imports only the standard library, then the node modules.

``python -I code_probe.py REQUEST_FILE REPORT_FILE``; the request holds ``code`` (the model's
code folder), ``hidden`` (folders whose modules must not be imported: the project's) and
``nodes`` (node name -> ``module:qualname``).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any


def within(path: str, folders: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == folder or real.startswith(folder + os.sep) for folder in folders)


class HideProject:
    """A finder ahead of all others: a top-level module that the other finders would find in
    one of the ``hidden`` folders is not found (the model's code folder excepted)."""

    def __init__(self, hidden: list[str], code: list[str]) -> None:
        self.hidden = hidden
        self.code = code

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if "." in name:
            return None  # a submodule is found in its parent's folder
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
    sys.meta_path.insert(0, HideProject(hidden, code))
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
