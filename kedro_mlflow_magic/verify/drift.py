"""Artifacts a model changes in place while predicting, found at log time
(docs/explanation/behaviour.md#predicting).

A logged model loads its artifacts once and every call shares them (no copies per call, so a
call costs nothing more whatever their size). A node that changes one in place (a vocabulary
grown with ``vocab.setdefault(...)``) would make the model drift from call to call. The parity
check watches the reloaded model's artifacts, as its runtime loaded them, across its predict:
a digest of each one's pickle before and after, streamed into the hash so that a large artifact
costs no second copy in memory. Only when a digest moves, fresh loads of the model settle it (a
changed internal layout that holds the same value is no change; an artifact whose two untouched
loads already differ cannot be judged and is let through) and one of them runs the nodes one by
one to name the node that changed it. A change made on a first call and never again, whatever
the rows, is a cache filled on first use, not drift (scikit-learn's text vectorizers record
the ``id()`` of their stop words when first used in a process). Nothing of this runs when the
model predicts.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd

from kedro_mlflow_magic.errors import ArtifactChangedError
from kedro_mlflow_magic.runtime import Manifest, dataset_key, interface_names, read_manifest

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel


class DigestWriter:
    """A file-like sink that hashes what a pickler writes into it."""

    def __init__(self) -> None:
        self.digest = hashlib.blake2b(digest_size=20)

    def write(self, data: Any) -> None:
        self.digest.update(data)


def fingerprint(value: Any) -> str | None:
    """A digest of the value's pickle; None for a value that cannot be pickled (not watched)."""
    sink = DigestWriter()
    try:
        pickle.Pickler(sink, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    except Exception:
        return None
    return sink.digest.hexdigest()


def same_value(before: Any, after: Any) -> bool:
    """Whether ``after`` holds what ``before`` holds: by value for frames and arrays (whose
    internal layout may change without a change of value), else by ``==`` or by pickle."""
    try:
        if isinstance(before, (pd.DataFrame, pd.Series, pd.Index)):
            return type(before) is type(after) and before.equals(after)
        if isinstance(before, np.ndarray):
            return (
                isinstance(after, np.ndarray)
                and before.dtype == after.dtype
                and np.array_equal(before, after, equal_nan=before.dtype.kind in "fc")
            )
        if type(before) is type(after) and (before == after) is True:
            return True
    except Exception:
        pass
    return fingerprint(before) == fingerprint(after)


def artifacts_of(model: PyFuncModel) -> dict[str, Any]:
    """The artifacts as the model's runtime loaded them (shared by every call)."""
    return model.unwrap_python_model().artifacts


def artifact_names(manifest: Manifest) -> dict[str, str]:
    """Each artifact's key among the runtime's values -> its dataset name in the catalog."""
    return {dataset_key(entry["dataset"]): entry["dataset"] for entry in manifest["artifacts"]}


def nodes_reading(manifest: Manifest, key: str) -> list[str]:
    """The nodes that take the artifact as an input (the only ones that can change it, unless
    a node passes it on as an output)."""
    return [
        node["name"]
        for node in manifest["nodes"]
        if key in {dataset_key(name) for name in interface_names(node["inputs"])}
    ]


def nodes_changing(
    model_uri: str, frame: pd.DataFrame, keys: list[str], reference: dict[str, Any]
) -> dict[str, str]:
    """Run a fresh load of the model on ``frame`` node by node and return, for each artifact
    of ``keys``, the first node after which it no longer holds its ``reference`` value."""
    model = mlflow.pyfunc.load_model(model_uri)
    python_model = model.unwrap_python_model()
    artifacts = python_model.artifacts
    culprits: dict[str, str] = {}

    def after_node(node_name: str) -> None:
        for key in keys:
            if key not in culprits and not same_value(reference[key], artifacts[key]):
                culprits[key] = node_name

    python_model.observe(after_node)
    with contextlib.suppress(Exception):  # the culprits found before a failure still count
        model.predict(frame)
    return culprits


def filled_on_first_use(model_uri: str, frame: pd.DataFrame, keys: list[str]) -> set[str]:
    """The artifacts of ``keys`` that a fresh load changes on its first call (on the first row)
    and no more on a second call on the whole frame, with the other rows: a cache filled on
    first use. A growing vocabulary grows again with the other rows' words. Needs two rows."""
    if len(frame) < 2:
        return set()
    model = mlflow.pyfunc.load_model(model_uri)
    artifacts = artifacts_of(model)
    with contextlib.suppress(Exception):
        model.predict(frame.head(1))
    first: dict[str, Any] = {}
    for key in keys:
        with contextlib.suppress(Exception):
            first[key] = pickle.loads(pickle.dumps(artifacts[key]))
    with contextlib.suppress(Exception):
        model.predict(frame)
    return {key for key in first if same_value(first[key], artifacts[key])}


@dataclass
class ArtifactWatch:
    """Fingerprints of a reloaded model's artifacts, taken before it predicts."""

    model: PyFuncModel
    before: dict[str, str]

    @classmethod
    def of(cls, model: PyFuncModel) -> ArtifactWatch:
        digests = {key: fingerprint(value) for key, value in artifacts_of(model).items()}
        return cls(model, {key: digest for key, digest in digests.items() if digest is not None})

    def moved(self) -> list[str]:
        """The artifacts whose digest changed since the watch began."""
        artifacts = artifacts_of(self.model)
        return [key for key, digest in self.before.items() if fingerprint(artifacts[key]) != digest]

    def refuse_changes(self, model_uri: str, frame: pd.DataFrame) -> None:
        """After the model predicted on ``frame``: ArtifactChangedError naming each artifact
        it changed in place and the node that changed it."""
        moved = self.moved()
        if not moved:
            return
        # a fresh load holds the artifacts as they were logged; a second one tells whether an
        # artifact can be judged at all (two untouched loads of it must compare equal)
        reference = artifacts_of(mlflow.pyfunc.load_model(model_uri))
        control = artifacts_of(mlflow.pyfunc.load_model(model_uri))
        artifacts = artifacts_of(self.model)
        changed = [
            key
            for key in moved
            if same_value(reference[key], control[key])
            and not same_value(reference[key], artifacts[key])
        ]
        if changed:
            cached = filled_on_first_use(model_uri, frame, changed)
            changed = [key for key in changed if key not in cached]
        if not changed:
            return
        manifest = read_manifest(self.model.model_config)
        assert manifest is not None  # a model this package logged
        culprits = nodes_changing(model_uri, frame, changed, reference)
        names = artifact_names(manifest)
        raise ArtifactChangedError(
            {
                names.get(key, key): [culprits[key]]
                if key in culprits
                else nodes_reading(manifest, key)
                for key in changed
            }
        )
