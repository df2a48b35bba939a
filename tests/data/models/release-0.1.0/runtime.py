"""The runtime that ships inside every logged model: reads the manifest, loads artifacts once, predicts.

MLflow logs this file as the model's code ("models from code") and runs it at load time, so it
imports only the standard library, MLflow, Kedro and what the artifacts' dataset types import;
never IPython, widgets or ``kedro_mlflow_magic`` itself. The manifest is the ``model_config`` of
the model (readable in its ``MLmodel`` file); its layout is written by ``manifest.py``.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple, TypedDict

import mlflow
import numpy as np
import pandas as pd
from kedro.io import AbstractDataset
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

MANIFEST_FORMAT = 1
# The manifest sits under this one key of the model's ``model_config``. MLflow logs a
# models-from-code ``model_config`` as run params, flattening nested dicts into one param per
# key; the manifest is therefore wrapped in a one-item list, so that it adds a single param,
# ``kedro_mlflow_magic``, that cannot collide with a training run's own params.
MANIFEST_KEY = "kedro_mlflow_magic"

Data = dict[str, Any]
# The copies made in advance during one call: node index -> its own copies, by dataset key.
Pending = dict[int, Data]
Step = Callable[[Data, Pending], None]

# pandas 3 always copies on write; pandas 2 does when the user turns the option on
ALWAYS_COPY_ON_WRITE = int(pd.__version__.split(".", 1)[0]) >= 3
# values that copy.deepcopy returns as they are
IMMUTABLE = (type(None), bool, int, float, complex, str, bytes)
NodeInterface = str | list[str] | dict[str, str] | None


class NodeEntry(TypedDict):
    """One node: its name, its function as ``module:qualname``, and its inputs and outputs in
    the form they were declared (a name, a list or a dict)."""

    name: str
    function: str
    inputs: NodeInterface
    outputs: NodeInterface


class ArtifactEntry(TypedDict):
    """One artifact: the dataset re-created at load time from its type and load settings, its
    files at ``<artifact>/<file>`` inside the model (a frozen one is a pickle of its value)."""

    dataset: str
    type: str
    artifact: str
    file: str
    path_key: str
    config: dict[str, Any]
    frozen: bool


class ParameterEntry(TypedDict):
    """One overridable parameter leaf (``model.C``): its path, schema default and encoding
    (``plain``, or ``json`` for values MLflow's parameter schema cannot hold)."""

    name: str
    path: list[str]
    default: Any
    encoding: str


class Manifest(TypedDict):
    """Everything a model runs; written by ``manifest.py``, read only through ``read_manifest``."""

    format: int
    data_input: str
    output: str
    # the column a 1-D array or Series output becomes (``as_output_frame``); None: returned as
    # it is. Manifests written before it existed lack the key, which reads as None.
    output_column: str | None
    nodes: list[NodeEntry]
    artifacts: list[ArtifactEntry]
    parameters: list[ParameterEntry]
    parameter_inputs: dict[str, list[str]]
    included_files: list[str]
    versions: dict[str, str]


def model_config_of(manifest: Manifest) -> dict[str, Any]:
    """The ``model_config`` a model is logged with: the manifest under its one key."""
    return {MANIFEST_KEY: [manifest]}


def read_manifest(model_config: Mapping[str, Any] | None) -> Manifest | None:
    """The manifest of a model's ``model_config``; None for a model this package did not log."""
    wrapped = (model_config or {}).get(MANIFEST_KEY)
    if not isinstance(wrapped, list) or len(wrapped) != 1 or not isinstance(wrapped[0], dict):
        return None
    return wrapped[0]


def dataset_key(name: str) -> str:
    """The key of a dataset in the values flowing through the pipeline (transcoding stripped)."""
    return name.split("@", 1)[0]


def import_function(reference: str) -> Callable[..., Any]:
    """Import ``module:qualname`` (the form the manifest uses for node functions)."""
    module_name, _, qualname = reference.partition(":")
    target: Any = importlib.import_module(module_name)
    for attribute in qualname.split("."):
        target = getattr(target, attribute)
    return target


class ReaderCopies(NamedTuple):
    """What one node gets as its own copy (dataset keys): ``copied`` always; ``writable`` only
    when the value is a read-only numpy array (Kedro's copy of an array is writable)."""

    copied: frozenset[str] = frozenset()
    writable: frozenset[str] = frozenset()


# Copies to make: (index of the node that gets it, dataset key).
CopyOrders = tuple[tuple[int, str], ...]


class StepCopies(NamedTuple):
    """The copies one node's step deals with: its ``index``, the keys it reads from ``writable``
    copies when they are read-only arrays, and the copies of its own outputs that other nodes
    get (``made_after``), made as soon as it returns."""

    index: int = 0
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


def interface_names(declared: str | list[str] | dict[str, str] | None) -> list[str]:
    """The dataset names of a node's inputs or outputs, whatever form they were declared in."""
    if declared is None:
        return []
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, dict):
        return list(declared.values())
    return list(declared)


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
    memory counts as one value: the outputs of one node (it may return one object twice, or a
    frame and a view of it) and parameter inputs one of which holds the other (``params:model``
    and ``params:model.C``; ``parameters`` holds them all). ``shared`` (the artifacts) is never
    copied. A node's output that its last reader gets as it is must still be writable, as
    Kedro's copy of a read-only array is: ``writable`` asks for a copy of read-only arrays.
    """
    reads = [
        (index, key)
        for index, (inputs, _) in enumerate(nodes)
        for key in dict.fromkeys(dataset_key(name) for name in inputs)
        if key not in shared
    ]
    together: dict[str, set[str]] = {}
    for _, outputs in nodes:
        siblings = {dataset_key(name) for name in outputs}
        for key in siblings:
            together.setdefault(key, set()).update(siblings)
    for name, path in parameter_paths.items():
        for other, other_path in parameter_paths.items():
            if path[: len(other_path)] == other_path or other_path[: len(path)] == path:
                together.setdefault(dataset_key(name), set()).add(dataset_key(other))
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
        StepCopies(index, reader_copies.writable, tuple(made_after))
        for index, (reader_copies, made_after) in enumerate(zip(copies, after, strict=True))
    ]
    return tuple(at_start), steps


def make_copies(data: Data, orders: CopyOrders, pending: Pending) -> None:
    """Make each ordered copy of a value in ``data`` and keep it for the node that gets it."""
    for reader, key in orders:
        pending.setdefault(reader, {})[key] = own_copy(data[key])


def reader_values(data: Data, own: Data | None, writable: frozenset[str]) -> Data:
    """The values one node reads: ``data`` with its own copies in, and read-only arrays among
    ``writable`` copied (its last reader may change an array, as Kedro's copy allows)."""
    values = dict(data)
    if own:
        values.update(own)
    for key in writable:
        value = data[key]
        if isinstance(value, np.ndarray) and not value.flags.writeable:
            values[key] = value.copy()
    return values


def compile_step(
    node: NodeEntry, function: Callable[..., Any], copies: StepCopies = NO_COPIES
) -> Step:
    """Turn one manifest node into a function that reads its inputs from and writes its outputs
    to the values dict, calling the node function the way Kedro does; ``copies``: the node's
    own copies of its inputs, and the copies of its outputs it makes for others (see
    ``copy_plan`` and ``schedule_copies``)."""
    name = node["name"]
    index, writable, made_after = copies
    inputs, outputs = node["inputs"], node["outputs"]

    if inputs is None:

        def call(data: Data) -> Any:
            return function()

    elif isinstance(inputs, str):
        key = dataset_key(inputs)

        def call(data: Data) -> Any:
            return function(data[key])

    elif isinstance(inputs, list):
        keys = [dataset_key(item) for item in inputs]

        def call(data: Data) -> Any:
            return function(*[data[key] for key in keys])

    else:
        keyword_keys = {argument: dataset_key(item) for argument, item in inputs.items()}

        def call(data: Data) -> Any:
            return function(**{arg: data[key] for arg, key in keyword_keys.items()})

    if outputs is None:

        def store(data: Data, result: Any) -> None:
            return None

    elif isinstance(outputs, str):
        output_key = dataset_key(outputs)

        def store(data: Data, result: Any) -> None:
            data[output_key] = result

    elif isinstance(outputs, list):
        output_keys = [dataset_key(item) for item in outputs]

        def store(data: Data, result: Any) -> None:
            if len(result) != len(output_keys):
                raise ValueError(
                    f"returned {len(result)} outputs where the node declares {len(output_keys)}"
                )
            data.update(zip(output_keys, result, strict=True))

    else:
        output_map = {key: dataset_key(item) for key, item in outputs.items()}

        def store(data: Data, result: Any) -> None:
            for result_key, output_key in output_map.items():
                data[output_key] = result[result_key]

    def step(data: Data, pending: Pending) -> None:
        try:
            own = pending.pop(index, None)
            if own is None and not writable:
                store(data, call(data))
            else:
                store(data, call(reader_values(data, own, writable)))
            if made_after:
                make_copies(data, made_after, pending)
        except MlflowException:
            raise
        except Exception as error:
            raise MlflowException(
                f"node '{name}' failed: {type(error).__name__}: {error}",
                error_code=INVALID_PARAMETER_VALUE,
            ) from error

    return step


class Parameters:
    """The pipeline's parameters as flat leaves (``model.C``) and how to rebuild each parameter
    input (``params:model``) from them, per call, with that call's overrides."""

    def __init__(self, leaves: list[ParameterEntry], inputs: dict[str, list[str]]):
        self.json_leaves = {leaf["name"] for leaf in leaves if leaf["encoding"] == "json"}
        self.defaults = {leaf["name"]: decode_leaf(leaf, leaf["default"]) for leaf in leaves}
        self.encoded_defaults = {leaf["name"]: leaf["default"] for leaf in leaves}
        self.paths = {leaf["name"]: leaf["path"] for leaf in leaves}
        self.mutable_leaves = [
            name for name, value in self.defaults.items() if isinstance(value, (list, dict))
        ]
        # each parameter input: its path and the leaves under it, in manifest order
        self.inputs = {
            name: (path, [leaf["name"] for leaf in leaves if leaf["path"][: len(path)] == path])
            for name, path in inputs.items()
        }

    @classmethod
    def of(cls, manifest: Manifest) -> Parameters:
        return cls(manifest["parameters"], manifest["parameter_inputs"])

    def values(self, params: dict[str, Any] | None) -> Data:
        """The value of every parameter input for one call, defaults overridden by ``params``."""
        leaf_values = self.defaults
        if params:
            leaf_values = dict(self.defaults)
            for name, value in params.items():
                if name not in leaf_values:
                    continue  # MLflow has already warned about parameters it does not know
                if name in self.json_leaves:
                    if value == self.encoded_defaults[name]:
                        continue
                    value = decode_json(value)
                leaf_values[name] = value
        if self.mutable_leaves:
            # Each call gets its own lists and dicts, as Kedro's MemoryDataset copies them:
            # a node that changes one in place cannot change the defaults of later calls.
            leaf_values = dict(leaf_values)
            for name in self.mutable_leaves:
                leaf_values[name] = copy.deepcopy(leaf_values[name])
        return {
            input_name: assemble(path, leaf_names, leaf_values, self.paths)
            for input_name, (path, leaf_names) in self.inputs.items()
        }


def decode_leaf(leaf: ParameterEntry, value: Any) -> Any:
    return decode_json(value) if leaf["encoding"] == "json" else value


def decode_json(value: Any) -> Any:
    """Parameters MLflow cannot hold travel as JSON text; text that is not JSON stays text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def assemble(
    path: list[str], leaf_names: list[str], leaf_values: Data, paths: dict[str, list[str]]
) -> Any:
    """Rebuild the (possibly nested) value at ``path`` from its leaves, as fresh dicts."""
    if len(leaf_names) == 1 and paths[leaf_names[0]] == path:
        return leaf_values[leaf_names[0]]
    root: dict[str, Any] = {}
    for leaf_name in leaf_names:
        *parents, last = paths[leaf_name][len(path) :]
        branch = root
        for part in parents:
            branch = branch.setdefault(part, {})
        branch[last] = leaf_values[leaf_name]
    return root


def as_output_frame(value: Any, column: str | None) -> Any:
    """A 1-D numpy array or a pandas Series as a one-column DataFrame named ``column``, so that
    the model's output schema is a named, typed column (served JSON gives
    ``{"predictions": [{column: ...}, ...]}``, ``spark_udf`` a column of that type) instead of a
    tensor; anything else (frames, 2-D arrays, dicts, scalars), or any value when ``column`` is
    None, as it is.

    Cheap: the frame shares the array's memory, and text stays ``object`` (no scan of every
    value to infer pandas' string dtype). The core infers the signature and checks parity on
    this same conversion.
    """
    if column is None:
        return value
    if isinstance(value, pd.Series):
        return value.to_frame(column)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        as_objects = value.dtype.kind in "OUS"  # text (and other objects) as Python objects
        return pd.DataFrame({column: value}, dtype=object if as_objects else None, copy=False)
    return value


def load_artifact(entry: ArtifactEntry, local_folder: str) -> Any:
    """Re-create an artifact's dataset from its catalog type and load arguments, its path
    pointing into the model, and load it."""
    config = dict(entry["config"])
    config["type"] = entry["type"]
    location = (
        local_folder if entry["file"] in ("", ".") else os.path.join(local_folder, entry["file"])
    )
    config[entry["path_key"]] = location
    try:
        dataset = AbstractDataset.from_config(entry["dataset"], config)
        return dataset.load()
    except Exception as error:
        raise MlflowException(
            f"could not load artifact '{entry['dataset']}' ({entry['type']}) from {location}: "
            f"{type(error).__name__}: {error}"
        ) from error


class PipelineModel(PythonModel):
    """An MLflow pyfunc model that runs the Kedro nodes listed in its manifest."""

    def load_context(self, context: Any) -> None:
        manifest = read_manifest(context.model_config)
        if manifest is None or manifest.get("format") != MANIFEST_FORMAT:
            found = None if manifest is None else manifest.get("format")
            raise MlflowException(
                f"this model's manifest has format {found!r}; "
                f"this runtime reads format {MANIFEST_FORMAT}"
            )
        self.data_input = dataset_key(manifest["data_input"])
        self.output = dataset_key(manifest["output"])
        self.output_column = manifest.get("output_column")  # absent in older manifests
        nodes = manifest["nodes"]
        interfaces = [
            (interface_names(node["inputs"]), interface_names(node["outputs"])) for node in nodes
        ]
        # Only the output is seen after the call. The caller's frame is not: through
        # mlflow.pyfunc the model gets a frame of its own (MLflow's schema enforcement builds it).
        copies = copy_plan(
            interfaces,
            observed_after={self.output},
            parameter_paths=manifest["parameter_inputs"],
            shared={dataset_key(entry["dataset"]) for entry in manifest["artifacts"]},
        )
        self.copies_at_start, step_copies = schedule_copies(
            copies, [outputs for _, outputs in interfaces]
        )
        self.steps = [
            compile_step(node, import_function(node["function"]), node_copies)
            for node, node_copies in zip(nodes, step_copies, strict=True)
        ]
        # Artifacts are loaded once, here; each call reads the same objects (no copies).
        self.constants = {
            dataset_key(entry["dataset"]): load_artifact(
                entry, context.artifacts[entry["artifact"]]
            )
            for entry in manifest["artifacts"]
        }
        self.parameters = Parameters.of(manifest)

    # A DataFrame hint tells MLflow to infer no schema from hints: the logged signature rules.
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        data = dict(self.constants)
        data.update(self.parameters.values(params))
        data[self.data_input] = model_input
        pending: Pending = {}
        make_copies(data, self.copies_at_start, pending)
        for step in self.steps:
            step(data, pending)
        return as_output_frame(data[self.output], self.output_column)


if __name__ != "kedro_mlflow_magic.runtime":
    # MLflow executes this file as the model's code: hand it the model.
    mlflow.models.set_model(PipelineModel())
