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
# called at each node's start and end with (the node that ended, the node that starts): what
# was written in between belongs to the one that ended (None: to no node)
listeners: list[Callable[[str | None, str | None], None]] = []
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
    code = getattr(function, "__code__", None)
    if code is None and not isinstance(function, type):  # a callable object: its __call__
        code = getattr(type(function).__dict__.get("__call__"), "__code__", None)
    return code


def remember(nodes: Iterable[Any]) -> None:
    """Remember the functions of these Kedro nodes, so that a call of one is named by its
    node wherever it runs (a function two nodes share is named by the first)."""
    for node in nodes:
        code = function_code(node.func)
        if code is not None:
            functions.setdefault(code, node.name)


def tell(ended: str | None, starts: str | None) -> None:
    for listener in list(listeners):
        listener(ended, starts)


def started(name: str) -> None:
    """The runner starts node ``name``."""
    global current
    current = name
    tell(None, name)


def finished() -> None:
    """The runner's node ended (ran or failed)."""
    global current
    ended, current = current, None
    if ended is not None:
        tell(ended, None)


def ran(name: str) -> None:
    """A logged model's runtime just ran node ``name`` (``PipelineModel.observe``): what was
    written since its previous step is that node's."""
    tell(name, None)


def observed(model: Any) -> Any:
    """A pyfunc model of ours whose runtime says each node it runs (``ran``), for the duration
    of that loaded instance (a model the core loaded to check it, never a served one)."""
    python_model = model.unwrap_python_model()
    if hasattr(python_model, "observe"):
        python_model.observe(ran)
    return model


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
