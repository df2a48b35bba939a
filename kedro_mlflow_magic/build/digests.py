"""The digests a manifest records: the sha256 of each artifact file (checked when the model
loads, compared by a review) and of each node function's source (compared by a review)."""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kedro_mlflow_magic.runtime import ArtifactEntry
from kedro_mlflow_magic.runtime.integrity import folder_digests


def record_artifact_digests(staged: list[ArtifactEntry], staging: Path) -> None:
    """Add to each staged artifact's entry the sha256 of each of its files (by its path inside
    the artifact's folder), read from the staged copy: what the model will hold."""
    for entry in staged:
        entry["sha256"] = folder_digests(str(staging / entry["artifact"]))


def source_digest(function: Callable[..., Any]) -> str | None:
    """The sha256 of a node function's source text (what ``inspect.getsource`` reads: the
    function itself, not what it calls), or None where Python cannot find its source (a
    built-in, a function made at run time). A ``functools.partial`` is its function's."""
    target: Any = function
    while isinstance(target, functools.partial):
        target = target.func
    try:
        source = inspect.getsource(inspect.unwrap(target))
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode("utf-8")).hexdigest()
