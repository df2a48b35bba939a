"""The manifest a model carries: its layout, and how it sits in the model's ``model_config``.

Written by the core (``kedro_mlflow_magic.build.manifest``), read here at load time, only through
``read_manifest``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypedDict

MANIFEST_FORMAT = 1
# The manifest sits under this one key of the model's ``model_config``. MLflow logs a
# models-from-code ``model_config`` as run params, flattening nested dicts into one param per
# key; the manifest is therefore wrapped in a one-item list, so that it adds a single param,
# ``kedro_mlflow_magic``, that cannot collide with a training run's own params. The manifest
# is one compact JSON text there: MLflow reads ``MLmodel`` with PyYAML's pure-Python loader
# several times per log and load, and a manifest of hundreds of nodes as YAML mappings cost it
# about 1.5 ms per node each time (a JSON text, a single YAML scalar, about a tenth of that).
MANIFEST_KEY = "kedro_mlflow_magic"

NodeInterface = str | list[str] | dict[str, str] | None


class _NodeEntryKeys(TypedDict):
    name: str
    function: str
    inputs: NodeInterface
    outputs: NodeInterface


class NodeEntry(_NodeEntryKeys, total=False):
    """One node: its name, its function as ``module:qualname``, and its inputs and outputs in
    the form they were declared (a name, a list or a dict). ``source_sha256``: the sha256 of
    the function's source text when it could be read (what a review compares); manifests
    written before it existed lack it."""

    source_sha256: str


class _ArtifactEntryKeys(TypedDict):
    dataset: str
    type: str
    artifact: str
    file: str
    path_key: str
    config: dict[str, Any]
    frozen: bool


class ArtifactEntry(_ArtifactEntryKeys, total=False):
    """One artifact: the dataset re-created at load time from its type and load settings, its
    files at ``<artifact>/<file>`` inside the model (a frozen one is a pickle of its value).

    An MLflow model shipped as an artifact has a ``flavor`` instead: its files are the MLflow
    model's, loaded with ``<flavor>.load_model`` and ``config["load_args"]``; ``source`` records
    where it came from (URI as the catalog names it, the pinned URI, registered name and version,
    model id, run). ``changed_by`` names the nodes that change the artifact in place (found at log
    time): each call gives its readers copies of their own, as Kedro's runner gives each node a
    fresh load. ``sha256``: the digest of each of its files, by its path inside ``<artifact>/``,
    checked when the model loads (``integrity``). Manifests written before these keys existed
    lack them. (Optional keys are declared
    with ``total=False`` rather than ``NotRequired``, which Python 3.10's ``typing`` lacks.)"""

    flavor: str
    source: dict[str, Any]
    changed_by: list[str]
    sha256: dict[str, str]


class ParameterEntry(TypedDict):
    """One overridable parameter leaf (``model.C``): its path, schema default and encoding
    (``plain``, or ``json`` for values MLflow's parameter schema cannot hold)."""

    name: str
    path: list[str]
    default: Any
    encoding: str


class KindsEntry(TypedDict):
    """The manifest's ``kinds``: ``datasets``, the kind each dataset name (as declared, with
    its transcoding suffix) loads as, for the names whose catalog type says one;
    ``values``, the kind of each value (dataset key) as its node produced it on the sample;
    ``data_input``, the kind the nodes get the data input in (None: as the caller gives it)."""

    datasets: dict[str, str]
    values: dict[str, str]
    data_input: str | None


class BatchDependenceEntry(TypedDict):
    """A row's answer depended on the other rows of the batch, on a sample of
    ``checked_rows`` rows predicted as one batch; ``example`` says how."""

    checked_rows: int
    example: str


class _ManifestKeys(TypedDict):
    format: int
    data_input: str
    output: str
    # the column a 1-D array or Series output becomes (``frames.as_output_frame``); None:
    # returned as it is. Manifests written before it existed lack the key, which reads as None.
    output_column: str | None
    nodes: list[NodeEntry]
    artifacts: list[ArtifactEntry]
    parameters: list[ParameterEntry]
    parameter_inputs: dict[str, list[str]]
    included_files: list[str]
    versions: dict[str, str]


class Manifest(_ManifestKeys, total=False):
    """Everything a model runs; written by ``kedro_mlflow_magic.build.manifest``. Optional keys
    (``total=False``: Python 3.10's ``typing`` has no ``NotRequired``), absent in manifests
    written before they existed:

    - ``added_requirements``: the requirements added by hand when it was logged
      (``--requirement``), as its requirements file lists them;
    - ``kinds``: where the runtime converts between kinds of data (pandas, Spark, polars,
      numpy); without it a model converts nothing;
    - ``batch_dependence``: present when a row's answer depended on the other rows of the
      batch at log time (the runtime does not read it; ``%kedro_predict`` notes it);
    - ``trace``: true for a model that records an MLflow trace of each call, a span per node
      (``tracing``); absent or false: it records none."""

    added_requirements: list[str]
    kinds: KindsEntry
    batch_dependence: BatchDependenceEntry
    trace: bool


def model_config_of(manifest: Manifest) -> dict[str, Any]:
    """The ``model_config`` a model is logged with: the manifest, as JSON text, under its one
    key."""
    return {MANIFEST_KEY: [json.dumps(manifest, separators=(",", ":"))]}


def read_manifest(model_config: Mapping[str, Any] | None) -> Manifest | None:
    """The manifest of a model's ``model_config`` (JSON text; the mapping itself in models of
    release 0.1.0); None for a model this package did not log."""
    wrapped = (model_config or {}).get(MANIFEST_KEY)
    if not isinstance(wrapped, list) or len(wrapped) != 1:
        return None
    manifest = wrapped[0]
    if isinstance(manifest, str):
        try:
            manifest = json.loads(manifest)
        except ValueError:
            return None
    return manifest if isinstance(manifest, dict) else None


def dataset_key(name: str) -> str:
    """The key of a dataset in the values flowing through the pipeline (transcoding stripped)."""
    return name.split("@", 1)[0]


def interface_names(declared: NodeInterface) -> list[str]:
    """The dataset names of a node's inputs or outputs, whatever form they were declared in."""
    if declared is None:
        return []
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, dict):
        return list(declared.values())
    return list(declared)
