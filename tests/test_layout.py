"""The house stays small as it grows: rooms named by concern, no module over 400 lines, no
function over 70, at most 12 modules at the package's top level. The docs' pointers
are checked in test_docs."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kedro_mlflow_magic"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 70
MAX_TOP_LEVEL_MODULES = 12


def package_modules() -> list[Path]:
    """Our modules, without the shipped demo project's template (a user's project)."""
    return [path for path in sorted(PACKAGE.rglob("*.py")) if "project" not in path.parts]


def test_no_module_is_over_the_line_limit() -> None:
    over = {
        str(path.relative_to(ROOT)): lines
        for path in package_modules()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert over == {}


def test_no_function_is_over_the_line_limit() -> None:
    over = {}
    for path in package_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    over[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert over == {}


def test_the_top_level_holds_few_modules_and_every_room_says_what_it_holds() -> None:
    top_level = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, top_level
    rooms = [path for path in PACKAGE.iterdir() if (path / "__init__.py").exists()]
    assert {room.name for room in rooms} >= {"inspect", "build", "verify", "tracking", "runtime"}
    silent = [
        room.name
        for room in rooms
        if not ast.get_docstring(ast.parse((room / "__init__.py").read_text()))
    ]
    assert silent == []
