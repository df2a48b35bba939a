"""Which node gets its own copy of which input, decided once at load time, as Kedro's
``MemoryDataset`` hands every node its own copy of an in-memory input."""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .manifest import dataset_key

Data = dict[str, Any]
# The copies made in advance during one call: node index -> its own copies, by dataset key.
Pending = dict[int, Data]

# pandas 3 always copies on write; pandas 2 does when the user turns the option on
ALWAYS_COPY_ON_WRITE = int(pd.__version__.split(".", 1)[0]) >= 3
# values that copy.deepcopy returns as they are
IMMUTABLE = (type(None), bool, int, float, complex, str, bytes)


class ReaderCopies(NamedTuple):
    """What one node gets as its own copy (dataset keys): ``copied`` always; ``writable`` only
    when the value is a read-only numpy array (Kedro's copy of an array is writable)."""

    copied: frozenset[str] = frozenset()
    writable: frozenset[str] = frozenset()


# Copies to make: (index of the node that gets it, dataset key).
CopyOrders = tuple[tuple[int, str], ...]


class StepCopies(NamedTuple):
    """The copies one node's step deals with: its ``index``, the keys it reads from its own
    copies (``copied``), the keys it reads from ``writable`` copies when they are read-only
    arrays, and the copies of its own outputs that other nodes get (``made_after``), made as
    soon as it returns."""

    index: int = 0
    copied: frozenset[str] = frozenset()
    writable: frozenset[str] = frozenset()
    made_after: CopyOrders = ()


NO_COPIES = StepCopies()


def copy_on_write() -> bool:
    """Whether pandas copies shared data before changing it, which makes a shallow copy of a
    frame as good as a deep one; read per call in pandas 2, as the user may set the option."""
    return ALWAYS_COPY_ON_WRITE or pd.get_option("mode.copy_on_write") is True


def own_copy(value: Any) -> Any:
    """A reader's own copy of ``value``, as Kedro's MemoryDataset makes on every load: pandas
    frames and series, and numpy arrays, are copied (shallowly where pandas copies on write);
    other frames (Spark, polars) and ibis tables are shared; the rest is deep-copied."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy(deep=not copy_on_write())
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, IMMUTABLE):
        return value
    kind = type(value)
    if kind.__name__ == "DataFrame" or kind.__module__.partition(".")[0] == "ibis":
        return value
    return copy.deepcopy(value)


def writable_value(value: Any) -> Any:
    """``value``, or a copy of it when it is a read-only numpy array (pandas hands out
    read-only views; the copy Kedro would give is writable)."""
    if isinstance(value, np.ndarray) and not value.flags.writeable:
        return value.copy()
    return value


def holding_together(
    nodes: list[tuple[list[str], list[str]]], parameter_paths: dict[str, list[str]]
) -> dict[str, set[str]]:
    """The values that may share memory with each value: the other outputs of the node that
    produced it (it may return one object twice, or a frame and a view of it), and the
    parameter inputs one of which holds the other (``params:model`` and ``params:model.C``;
    ``parameters`` holds them all), found through path prefixes (linear in the parameters)."""
    together: dict[str, set[str]] = {}
    for _, outputs in nodes:
        siblings = {dataset_key(name) for name in outputs}
        for key in siblings:
            together.setdefault(key, set()).update(siblings)
    by_path = {tuple(path): dataset_key(name) for name, path in parameter_paths.items()}
    for path, key in by_path.items():
        for depth in range(len(path)):
            holder = by_path.get(path[:depth])
            if holder is not None:
                together.setdefault(key, {key}).add(holder)
                together.setdefault(holder, {holder}).add(key)
    return together


def copy_plan(
    nodes: list[tuple[list[str], list[str]]],
    observed_after: Collection[str],
    parameter_paths: dict[str, list[str]],
    shared: Collection[str],
) -> list[ReaderCopies]:
    """Which inputs each node (``(inputs, outputs)`` in running order) gets as its own copy,
    decided once, when the model is loaded.

    Kedro's runner gives every node its own copy of each in-memory input, so no node sees what
    another changed in place. The same results need a copy only where a change could be seen:
    when the value is read again later, or is seen after the call (``observed_after``: the
    output, and the caller's frame). The last reader of a value gets it as it is. What may share
    memory counts as one value (``holding_together``). ``shared`` (the artifacts, and values
    that cannot change in place) is never copied. A node's output that its last reader gets as
    it is must still be writable, as Kedro's copy of a read-only array is: ``writable`` asks
    for a copy of read-only arrays.
    """
    reads = [
        (index, key)
        for index, (inputs, _) in enumerate(nodes)
        for key in dict.fromkeys(dataset_key(name) for name in inputs)
        if key not in shared
    ]
    together = holding_together(nodes, parameter_paths)
    last_read = {key: position for position, (_, key) in enumerate(reads)}
    last_read.update(dict.fromkeys(map(dataset_key, observed_after), len(reads)))
    produced = {dataset_key(name) for _, outputs in nodes for name in outputs}
    copied: list[set[str]] = [set() for _ in nodes]
    writable: list[set[str]] = [set() for _ in nodes]
    for position, (index, key) in enumerate(reads):
        seen_later = max(last_read.get(other, -1) for other in together.get(key, {key}) | {key})
        if seen_later > position:
            copied[index].add(key)
        elif key in produced:
            writable[index].add(key)
    return [
        ReaderCopies(frozenset(keys), frozenset(checked))
        for keys, checked in zip(copied, writable, strict=True)
    ]


def schedule_copies(
    copies: list[ReaderCopies], outputs: list[list[str]]
) -> tuple[CopyOrders, list[StepCopies]]:
    """When each copy is made: as soon as its value is there, all of a value's copies together
    (on the demo, a frame copy made right after node calls costs about 33 µs, the next one made
    beside it about 17 µs: the first brings pandas' code back into the processor's caches). The
    copies of the data input and of parameters are made when the call starts;
    those of a node's outputs when the node returns. Until its last reader nothing changes a
    value (every earlier reader has its own copy), so a copy made then is the copy Kedro makes
    when each node loads it. Returns the copies made at the start, and each node's
    ``StepCopies``."""
    producer = {dataset_key(name): index for index, names in enumerate(outputs) for name in names}
    at_start: list[tuple[int, str]] = []
    after: list[list[tuple[int, str]]] = [[] for _ in outputs]
    for reader, reader_copies in enumerate(copies):
        for key in sorted(reader_copies.copied):
            orders = after[producer[key]] if key in producer else at_start
            orders.append((reader, key))
    steps = [
        StepCopies(index, reader_copies.copied, reader_copies.writable, tuple(made_after))
        for index, (reader_copies, made_after) in enumerate(zip(copies, after, strict=True))
    ]
    return tuple(at_start), steps


def make_copies(data: Data, orders: CopyOrders, pending: Pending) -> None:
    """Make each ordered copy of a value in ``data`` and keep it for the node that gets it."""
    for reader, key in orders:
        pending.setdefault(reader, {})[key] = own_copy(data[key])


def release_plan(
    steps: list[tuple[list[str], list[str]]], kept: Collection[str]
) -> list[tuple[str, ...]]:
    """The values each step (``(inputs, outputs)`` in running order) lets go of once it has
    run: those it produced or read whose last reader it is, as Kedro's runner releases a
    dataset once its last reader has run (an output nobody reads goes right after its
    producer). Decided once, at load time. Only values the steps produce are released: the
    output and ``kept`` stay, and the data input, the parameters and the artifacts are held by
    the caller or the model anyway."""
    kept = {dataset_key(name) for name in kept}
    last: dict[str, int] = {}
    for index, (inputs, outputs) in enumerate(steps):
        for name in (*outputs, *inputs):
            last[dataset_key(name)] = index
    produced = {dataset_key(name) for _, outputs in steps for name in outputs}
    released: list[list[str]] = [[] for _ in steps]
    for key, index in last.items():
        if key in produced and key not in kept:
            released[index].append(key)
    return [tuple(sorted(keys)) for keys in released]
