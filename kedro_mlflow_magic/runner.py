"""Running a pipeline in the Kedro session: Kedro's SequentialRunner on a given frame, with the
artifacts as the session has them, in a catalog of its own (the session's stays untouched)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import SequentialRunner

from kedro_mlflow_magic.compat import KeptMemoryDataset, create_hook_manager
from kedro_mlflow_magic.errors import PipelineRunError
from kedro_mlflow_magic.quiet import quiet_kedro
from kedro_mlflow_magic.roles import PipelineInputs
from kedro_mlflow_magic.runtime import dataset_key


class FailedNode:
    """A Kedro hook that remembers which node raised, so that the error can name it."""

    def __init__(self) -> None:
        self.name: str | None = None

    @hook_impl
    def on_node_error(self, node: Node) -> None:
        self.name = node.name


def shared_transcoded_datasets(pipeline: Pipeline, bound: set[str]) -> dict[str, MemoryDataset]:
    """One in-memory dataset for all transcoded names of an intermediate dataset (``names@pandas``,
    ``names@pickle``), so a node reads in one form what another node saved in another."""
    shared: dict[str, MemoryDataset] = {}
    datasets = {}
    for name in sorted(pipeline.datasets() - bound):
        if "@" in name:
            datasets[name] = shared.setdefault(dataset_key(name), KeptMemoryDataset())
    return datasets


def run_in_session(
    pipeline: Pipeline,
    catalog: DataCatalog,
    roles: PipelineInputs,
    frame: pd.DataFrame,
    parameter_values: dict[str, Any],
    output: str,
) -> Any:
    """Run the pipeline with Kedro's SequentialRunner on ``frame``, the artifacts as the session
    has them and the given parameter values, and return the output's value."""
    datasets = {name: catalog.get(name) for name in roles.artifacts}
    for name, value in {roles.data_input: frame, **parameter_values}.items():
        datasets[name] = MemoryDataset(value)
    datasets.update(shared_transcoded_datasets(pipeline, set(datasets)))
    run_catalog = DataCatalog(datasets=datasets)
    failed = FailedNode()
    hooks = create_hook_manager()
    hooks.register(failed)
    try:
        with quiet_kedro():
            results = SequentialRunner().run(pipeline, run_catalog, hook_manager=hooks)
    except Exception as error:
        raise PipelineRunError(failed.name, error, str(roles.data_input)) from error
    return results[output].load()
