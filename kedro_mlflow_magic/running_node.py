"""Which node of a pipeline runs now, for what watches a run of the project's code (the output
it prints, the MLflow stores it reaches): said by Kedro's runner through a hook in our own runs
(``verify/reference_run``), else found on the stack from the node functions seen in those runs
(a logged model calls the same functions while it is checked).

One node runs at a time in our runs (Kedro's ``SequentialRunner``, the model's runtime); a
thread a node starts belongs to it while it runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from types import CodeType
from typing import Any

# the node the runner runs now (between its before_node_run and after_node_run hooks)
current: str | None = None
# the node functions of the pipelines we ran (their code, unwrapped), by node name
functions: dict[CodeType, str] = {}
# called with the node's name when it starts, and with None when it ends
listeners: list[Callable[[str | None], None]] = []
# how many frames up the stack a node function is looked for
STACK_DEPTH = 60


def function_code(function: Any) -> CodeType | None:
    """The code object of a node's function: through ``functools.partial`` and decorators
    that keep ``__wrapped__``; None for a callable without Python code (a builtin)."""
    while hasattr(function, "func") and not hasattr(function, "__code__"):
        function = function.func  # functools.partial
    try:
        function = inspect.unwrap(function)
    except ValueError:
        return None
    return getattr(function, "__code__", None) or getattr(
        getattr(function, "__call__", None), "__code__", None
    )


def remember(nodes: Iterable[Any]) -> None:
    """Remember the functions of these Kedro nodes, so that a call of one is named by its
    node wherever it runs (a function two nodes share is named by the first)."""
    for node in nodes:
        code = function_code(node.func)
        if code is not None:
            functions.setdefault(code, node.name)


def started(name: str) -> None:
    global current
    current = name
    for listener in list(listeners):
        listener(name)


def finished() -> None:
    global current
    current = None
    for listener in list(listeners):
        listener(None)


def node_now() -> str | None:
    """The node running now: the one the runner said, else the innermost node function on
    this thread's stack; None outside any node."""
    if current is not None:
        return current
    if not functions:
        return None
    frame = inspect.currentframe()
    for _ in range(STACK_DEPTH):
        if frame is None:
            return None
        name = functions.get(frame.f_code)
        if name is not None:
            return name
        frame = frame.f_back
    return None
