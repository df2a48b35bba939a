"""Nodes that reach outside the model while they run: the MLflow tracking store or model
registry (docs/guides/notebook.md#nodes-that-reach-outside).

A node that loads ``models:/churn@champion`` inside its function, or searches runs, makes the
served model ask the store on every call, need it wherever it is served, and answer otherwise
when the alias moves. While our runs execute the nodes, every lookup of an MLflow store and
every store method called is recorded under the node running (``running_node``); the log's
summary names each such node with the fix. And a node's requests to an unreachable tracking
server fail at once instead of being retried for minutes.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

from kedro_mlflow_magic import running_node
from kedro_mlflow_magic.compat import mlflow_store_bases, mlflow_store_lookups
from kedro_mlflow_magic.quiet import variables_set

# MLflow's HTTP settings while our runs execute nodes: no retry, a short wait
NODE_RUN_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}

# what each node reached: node -> {"model registry": [method, ...], "tracking store": [...]}
Reached = dict[str, dict[str, list[str]]]

FIX = (
    "make what it loads an input of the node from the catalog, pinned into the model when it "
    "is logged: an MLflow model as kedro-mlflow's MlflowModelRegistryDataset (model_name, "
    "alias) or an entry with model_uri and flavor; anything else it reads as a parameter or "
    "an artifact"
)


def reach_notes(reached: Reached) -> list[str]:
    """One line per node that reached an MLflow store while it ran: what it called, why it
    matters, the fix."""
    notes = []
    for node, stores in reached.items():
        calls = sorted({call for methods in stores.values() for call in methods})
        called = f" ({', '.join(calls)})" if calls else ""
        notes.append(
            f"node '{node}' reaches the MLflow {' and '.join(sorted(stores))} while it runs"
            f"{called}: the served model would need it on every call and answer otherwise "
            f"when what it reads there changes; {FIX}"
        )
    return notes


def reach_hint(reached: Reached, node: str | None) -> str:
    """For the error of a node that failed: that it reached an MLflow store, and the fix."""
    if node is None or node not in reached:
        return ""
    return f"; it reached the MLflow {' and '.join(sorted(reached[node]))} while it ran: {FIX}"


class StoreWatch:
    """Record, under the node running, each store lookup and each store method called (the
    outermost one of a thread: a method calling another is one call)."""

    def __init__(self, reached: Reached) -> None:
        self.reached = reached
        self.local = threading.local()
        self.patched: list[tuple[type, str, Any]] = []
        self.watched: set[type] = set()

    def record(self, kind: str, method: str | None) -> None:
        node = running_node.node_now()
        if node is None:
            return
        calls = self.reached.setdefault(node, {}).setdefault(kind, [])
        if method is not None and method not in calls:
            calls.append(method)

    def recorded(self, function: Callable[..., Any], kind: str, name: str | None) -> Any:
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self.local, "depth", 0)
            if depth == 0:
                self.record(kind, name)
            self.local.depth = depth + 1
            try:
                result = function(*args, **kwargs)
            finally:
                self.local.depth = depth
            if name is None:  # a lookup: the store it gives is watched from now on
                self.watch_class(type(result), kind)
            return result

        return call

    def patch(self, owner: type, name: str, kind: str, method: str | None) -> None:
        original = owner.__dict__[name]
        self.patched.append((owner, name, original))
        setattr(owner, name, self.recorded(original, kind, method))

    def watch_class(self, store_class: type, kind: str) -> None:
        """Wrap the store methods ``store_class`` and its bases define (once a class)."""
        for owner in store_class.__mro__:
            if owner in self.watched or owner is object:
                continue
            self.watched.add(owner)
            for name, value in list(vars(owner).items()):
                if not name.startswith("_") and inspect.isfunction(value):
                    self.patch(owner, name, kind, name)

    def start(self) -> None:
        for registry, kind in mlflow_store_lookups():
            self.patch(registry, "get_store", kind, None)
        for base, kind in zip(
            mlflow_store_bases(), ("tracking store", "model registry"), strict=True
        ):
            for store_class in (base, *subclasses(base)):
                self.watch_class(store_class, kind)

    def stop(self) -> None:
        for owner, name, original in reversed(self.patched):
            setattr(owner, name, original)
        self.patched.clear()


def subclasses(base: type) -> list[type]:
    found = []
    for subclass in base.__subclasses__():
        found += [subclass, *subclasses(subclass)]
    return found


@contextlib.contextmanager
def watching_stores(reached: Reached) -> Iterator[None]:
    """For the duration: each MLflow store a node reaches is recorded in ``reached``, and a
    node's HTTP requests to a tracking server are not retried (an unreachable server fails the
    node at once, and the log names it)."""
    watch = StoreWatch(reached)
    watch.start()
    try:
        with variables_set(NODE_RUN_HTTP, override=True):
            yield
    finally:
        watch.stop()
