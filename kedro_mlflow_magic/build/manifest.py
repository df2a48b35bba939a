"""Pipeline + catalog -> the manifest a model carries: what it runs, readable in its MLmodel.

The manifest's layout is the ``Manifest`` type of ``runtime/manifest.py``; the runtime reads it at
load time.
"""

from __future__ import annotations

import platform
from importlib.metadata import version

from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

from kedro_mlflow_magic.build.digests import source_digest
from kedro_mlflow_magic.build.signature import ParameterLeaf, parameter_path
from kedro_mlflow_magic.compat import node_interface
from kedro_mlflow_magic.inspect.roles import function_reference
from kedro_mlflow_magic.runtime import (
    MANIFEST_FORMAT,
    ArtifactEntry,
    BatchDependenceEntry,
    KindsEntry,
    Manifest,
    NodeEntry,
    ParameterEntry,
)


def describe_node(node: Node) -> NodeEntry:
    inputs, outputs = node_interface(node)
    entry = NodeEntry(
        name=node.name, function=str(function_reference(node.func)), inputs=inputs, outputs=outputs
    )
    digest = source_digest(node.func)
    if digest is not None:
        entry["source_sha256"] = digest
    return entry


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "kedro": version("kedro"),
        "kedro-datasets": version("kedro-datasets"),
        "mlflow": version("mlflow"),
    }


def leaf_entries(leaves: list[ParameterLeaf]) -> list[ParameterEntry]:
    """The manifest's parameters: each leaf with its path and schema default."""
    return [
        ParameterEntry(
            name=leaf.name, path=list(leaf.path), default=leaf.schema_default,
            encoding=leaf.encoding,
        )
        for leaf in leaves
    ]  # fmt: skip


def parameter_input_paths(names: list[str]) -> dict[str, list[str]]:
    """Each parameter input (``params:model``) and the path of its value among the leaves."""
    return {name: list(parameter_path(name)) for name in names}


def build_manifest(
    pipeline: Pipeline,
    data_input: str,
    output: str,
    artifacts: list[ArtifactEntry],
    leaves: list[ParameterLeaf],
    parameter_inputs: list[str],
    included_files: list[str] | None = None,
    output_column: str | None = None,
    added_requirements: list[str] | None = None,
    kinds: KindsEntry | None = None,
    batch_dependence: BatchDependenceEntry | None = None,
    trace: bool = False,
) -> Manifest:
    """A plain, JSON-able description of everything the model runs (see ``runtime/``);
    ``output_column``: the column a 1-D array or Series output becomes, None to keep it;
    ``added_requirements``: the requirements added by hand; ``kinds``: the kinds of its data
    (pandas, Spark, polars, numpy), where the runtime converts; ``batch_dependence``: rows
    found to depend on each other (``verify.batch_independence``); ``trace``: the model records
    a span per node on each call."""
    manifest = Manifest(
        format=MANIFEST_FORMAT,
        data_input=data_input,
        output=output,
        output_column=output_column,
        nodes=[describe_node(node) for node in pipeline.nodes],
        artifacts=artifacts,
        parameters=leaf_entries(leaves),
        parameter_inputs=parameter_input_paths(parameter_inputs),
        included_files=list(included_files or []),
        versions=versions(),
        added_requirements=list(added_requirements or []),
    )
    if kinds is not None:
        manifest["kinds"] = kinds
    if batch_dependence is not None:
        manifest["batch_dependence"] = batch_dependence
    if trace:
        manifest["trace"] = True
    return manifest
