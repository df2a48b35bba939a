"""The pipeline's parameters at predict time: flat, overridable leaves (``model.C``) and the
parameter inputs (``params:model``) rebuilt from them on each call."""

from __future__ import annotations

import copy
import json
from typing import Any

from .copies import IMMUTABLE
from .manifest import Manifest, ParameterEntry

Data = dict[str, Any]


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
        # each parameter input: its path and the leaves under it, in manifest order; found
        # through the prefixes of each leaf's path, so that it costs the leaves times their depth
        under: dict[tuple[str, ...], list[str]] = {tuple(path): [] for path in inputs.values()}
        for leaf in leaves:
            path = tuple(leaf["path"])
            for depth in range(len(path) + 1):
                if path[:depth] in under:
                    under[path[:depth]].append(leaf["name"])
        self.inputs = {name: (path, under[tuple(path)]) for name, path in inputs.items()}

    @classmethod
    def of(cls, manifest: Manifest) -> Parameters:
        return cls(manifest["parameters"], manifest["parameter_inputs"])

    def immutable_inputs(self) -> set[str]:
        """The parameter inputs whose value on every call is an immutable scalar (a plain
        leaf whose default is one; MLflow converts an override to the schema's type): a
        node can change none of them in place, so none is ever copied."""
        return {
            name
            for name, (path, leaf_names) in self.inputs.items()
            if len(leaf_names) == 1
            and self.paths[leaf_names[0]] == path
            and leaf_names[0] not in self.json_leaves
            and isinstance(self.defaults[leaf_names[0]], IMMUTABLE)
        }

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
