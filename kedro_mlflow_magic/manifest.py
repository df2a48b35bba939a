"""Pipeline + catalog -> the manifest a model carries: what it runs, readable in its MLmodel."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

from kedro_mlflow_magic.roles import function_reference
from kedro_mlflow_magic.runtime import MANIFEST_FORMAT
from kedro_mlflow_magic.signature import ParameterLeaf, parameter_path

NodeInterface = str | list[str] | dict[str, str] | None


@dataclass(frozen=True)
class StagedArtifact:
    """An artifact copied into the staging folder: ``<artifact key>/<file>`` inside the model."""

    dataset: str
    dataset_type: str
    key: str
    file: str
    path_key: str
    config: dict[str, Any]
    frozen: bool


def node_interface(node: Node) -> tuple[NodeInterface, NodeInterface]:
    """The node's inputs and outputs in the form they were declared (a name, a list or a dict),
    which decides how the function is called and how its result is split.

    Kedro's public ``inputs``/``outputs`` give flat lists only; the declared form lives in
    ``_inputs``/``_outputs``, which this function alone reads.
    """
    return node._inputs, node._outputs


def describe_node(node: Node) -> dict[str, Any]:
    inputs, outputs = node_interface(node)
    return {
        "name": node.name,
        "function": function_reference(node.func),
        "inputs": inputs,
        "outputs": outputs,
    }


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "kedro": version("kedro"),
        "kedro-datasets": version("kedro-datasets"),
        "mlflow": version("mlflow"),
    }


def leaf_entries(leaves: list[ParameterLeaf]) -> list[dict[str, Any]]:
    """The manifest's parameters: each leaf with its path and schema default."""
    return [
        {"name": leaf.name, "path": list(leaf.path), "default": leaf.schema_default,
         "encoding": leaf.encoding}
        for leaf in leaves
    ]  # fmt: skip


def parameter_input_paths(names: list[str]) -> dict[str, list[str]]:
    """Each parameter input (``params:model``) and the path of its value among the leaves."""
    return {name: list(parameter_path(name)) for name in names}


def build_manifest(
    pipeline: Pipeline,
    data_input: str,
    output: str,
    artifacts: list[StagedArtifact],
    leaves: list[ParameterLeaf],
    parameter_inputs: list[str],
) -> dict[str, Any]:
    """A plain, JSON-able description of everything the model runs (see runtime.py)."""
    return {
        "format": MANIFEST_FORMAT,
        "data_input": data_input,
        "output": output,
        "nodes": [describe_node(node) for node in pipeline.nodes],
        "artifacts": [
            {
                "dataset": artifact.dataset,
                "type": artifact.dataset_type,
                "artifact": artifact.key,
                "file": artifact.file,
                "path_key": artifact.path_key,
                "config": artifact.config,
                "frozen": artifact.frozen,
            }
            for artifact in artifacts
        ],
        "parameters": leaf_entries(leaves),
        "parameter_inputs": parameter_input_paths(parameter_inputs),
        "versions": versions(),
    }
