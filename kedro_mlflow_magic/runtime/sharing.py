"""How every call shares the artifacts without drifting: a node that changes an artifact in
place must not change the answers of later calls, on any input (see
docs/explanation/behaviour.md#predicting). Kedro's runner loads a persisted input afresh for
each node; the model loads it once. Decided per artifact, once, at load time:

- **copied per call**: an artifact whose copy is cheap (a vocabulary, a list of categories, a
  small array) is copied for each node that reads it, on every call, as Kedro's runner would
  hand it a fresh load. Cheap is measured here: plain containers of at most
  ``CONTAINER_ITEMS`` values and arrays of at most ``ARRAY_BYTES`` by their size; other objects
  whose files are small by timing their copy (the best of a few), at most ``CHEAP_COPY_SECONDS``;
- **read-only**: a larger numpy array is handed out read-only, so that a node changing it
  raises at once (the error names the node and the artifact) instead of drifting;
- **copied per call because a node changes it**: an artifact that a node changed in place when
  the log ran the pipeline on the sample (the manifest's ``changed_by``), whatever its size;
- **shared as loaded**: the rest (a fitted estimator, a large frame, an MLflow model); a
  change that only other inputs than the sample would show is not caught (README: no drift
  between calls).

The per-call cost is that of the copies only, none for a pipeline whose artifacts are large.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from .copies import IMMUTABLE, own_copy

# A copy per call and per reading node costs at most this (the best of several timings).
CHEAP_COPY_SECONDS = 10e-6
# A flat dict, list or set of immutable values (a vocabulary) of at most this many entries is
# copied per call with its own ``copy()`` (about 8 µs for 1000 entries)
FLAT_ITEMS = 1000
# Other plain containers (nested) of at most this many values in all: deep-copied per call
# (about 5 µs for a dict of 8 entries)
CONTAINER_ITEMS = 16
# numpy arrays of at most this size: copied per call (about 1 µs)
ARRAY_BYTES = 16 * 1024
# other objects whose files exceed this are never timed (their copy costs more than it is worth)
SMALL_FILES_BYTES = 64 * 1024
TIMING_ROUNDS, COPIES_PER_ROUND = 5, 10
PLAIN_CONTAINERS = (dict, list, set, tuple, frozenset)
FLAT_CONTAINERS = (dict, list, set)

Copier = Callable[[Any], Any]
# Copies of artifacts made when a call starts: (index of the node that gets it, key, copier).
ArtifactCopies = tuple[tuple[int, str, Copier], ...]


def files_size(location: str) -> int:
    """The bytes of an artifact's files (a file or a folder)."""
    if os.path.isfile(location):
        return os.path.getsize(location)
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(location)
        for name in names
    )


def container_items(value: Any, limit: int) -> int | None:
    """How many values a plain container holds in all (nested ones counted), or None when it
    holds something else than plain containers and immutable values, or more than ``limit``."""
    count = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, PLAIN_CONTAINERS):
            pending.extend(item)
        elif not isinstance(item, IMMUTABLE):
            return None
        count += 1
        if count > limit:
            return None
    return count


def copy_seconds(value: Any) -> float:
    """The best time of one copy of ``value`` (as a call makes it), over a few rounds."""
    started = time.perf_counter()
    own_copy(value)
    first = time.perf_counter() - started
    if first > 10 * CHEAP_COPY_SECONDS:
        return first
    best = first
    for _ in range(TIMING_ROUNDS):
        started = time.perf_counter()
        for _ in range(COPIES_PER_ROUND):
            own_copy(value)
        best = min(best, (time.perf_counter() - started) / COPIES_PER_ROUND)
    return best


def is_flat(value: Any) -> bool:
    """A dict, list or set of at most ``FLAT_ITEMS`` immutable values (keys are hashable)."""
    if not isinstance(value, FLAT_CONTAINERS) or len(value) > FLAT_ITEMS:
        return False
    values = value.values() if isinstance(value, dict) else value
    return all(isinstance(item, IMMUTABLE) for item in values)


def shallow_copy(value: Any) -> Any:
    return value.copy()


def copier_for(value: Any, location: str | None) -> Copier | None:
    """How an artifact is copied for each node that reads it, on every call, when its copy is
    cheap; None when it is shared as loaded (``location``: its files in the model; None for an
    MLflow model, which is never copied)."""
    if location is None or isinstance(value, IMMUTABLE):
        return None
    if isinstance(value, np.ndarray):
        return np.ndarray.copy if value.nbytes <= ARRAY_BYTES else None
    if is_flat(value):
        return shallow_copy
    if isinstance(value, PLAIN_CONTAINERS):
        # a deep copy of more than CONTAINER_ITEMS values costs more than it is worth
        if container_items(value, CONTAINER_ITEMS) is None or not is_mutable(value):
            return None
        return copy.deepcopy
    if files_size(location) > SMALL_FILES_BYTES:
        return None
    try:
        return own_copy if copy_seconds(value) <= CHEAP_COPY_SECONDS else None
    except Exception:  # a value that cannot be copied is shared
        return None


def per_call_copiers(
    values: dict[str, Any], locations: dict[str, str | None], changed: Collection[str] = ()
) -> dict[str, Copier]:
    """The artifacts copied per call (by key), each with its copier (``copier_for``); those of
    ``changed`` (a node changes them in place, as seen at log time) whatever their cost."""
    copiers = {
        key: own_copy if key in changed else copier_for(value, locations[key])
        for key, value in values.items()
    }
    return {key: copier for key, copier in copiers.items() if copier is not None}


def is_mutable(value: Any) -> bool:
    """Whether a plain container holds a mutable container somewhere."""
    if isinstance(value, (dict, list, set)):
        return True
    if isinstance(value, (tuple, frozenset)):
        return any(is_mutable(item) for item in value)
    return False


def copy_artifacts(constants: dict[str, Any], orders: ArtifactCopies, pending: dict) -> None:
    """Each node's own copies of the artifacts copied per call, made when a call starts."""
    for reader, key, copier in orders:
        pending.setdefault(reader, {})[key] = copier(constants[key])


def hand_out_read_only(value: Any) -> bool:
    """Make a shared numpy array read-only, so that a node changing it raises at once;
    whether it is one."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
        return True
    return False


READ_ONLY_HINT = "read-only"


def changed_read_only(error: Exception) -> bool:
    """Whether ``error`` is numpy's refusal to change a read-only array."""
    return isinstance(error, ValueError) and READ_ONLY_HINT in str(error)
