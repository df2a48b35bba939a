"""Running a pipeline in the Kedro session: Kedro's SequentialRunner on a given frame, with the
artifacts as the session has them, in a catalog of its own (the session's stays untouched).

A pipeline that converts between kinds of data (pandas, Spark, polars, numpy) runs with its
persisted intermediate datasets as the catalog defines them (types, load and save settings),
pointed at a scratch folder: the reference converts through files as ``kedro run`` does, and
writes nothing into the project."""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractDataset, DataCatalog, MemoryDataset
from kedro.io.core import is_parameter
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import SequentialRunner

from kedro_mlflow_magic import running_node
from kedro_mlflow_magic.compat import KeptMemoryDataset, create_hook_manager
from kedro_mlflow_magic.errors import PipelineRunError
from kedro_mlflow_magic.inspect.roles import PipelineInputs
from kedro_mlflow_magic.quiet import SILENT, quiet_kedro
from kedro_mlflow_magic.runtime import dataset_key
from kedro_mlflow_magic.runtime.conversions import to_pandas
from kedro_mlflow_magic.runtime.kinds import kind_of
from kedro_mlflow_magic.verify.outside import Reached, reach_hint, watching_stores


class RunningNodes:
    """A Kedro hook that says which node runs now (``running_node``: what the nodes print and
    the stores they reach are put under its name) and remembers which node raised, so that the
    error can name it."""

    def __init__(self) -> None:
        self.failed: str | None = None

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        running_node.started(node.name)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        running_node.finished()

    @hook_impl
    def on_node_error(self, node: Node) -> None:
        self.failed = node.name
        running_node.finished()


class ProducedKinds:
    """A Kedro hook that notes the kind of each value a node returns (before the catalog
    saves it), by dataset key: the kinds the model's conversions start from."""

    def __init__(self) -> None:
        self.kinds: dict[str, str] = {}

    @hook_impl
    def after_node_run(self, outputs: dict[str, Any]) -> None:
        for name, value in outputs.items():
            kind = kind_of(value)
            if kind is not None:
                self.kinds[dataset_key(name)] = kind


PATH_KEYS = ("filepath", "path")


def scratch_datasets(
    pipeline: Pipeline, catalog: DataCatalog, bound: set[str], scratch: str
) -> dict[str, AbstractDataset]:
    """The pipeline's persisted intermediate datasets as the catalog defines them, their files
    moved into ``scratch`` (transcoded names of one file share one scratch file); credentials
    and remote filesystem settings stay behind (the scratch copy is local)."""
    names = sorted(name for name in pipeline.datasets() - bound if not is_parameter(name))
    for name in names:
        if name in catalog:
            catalog.get(name)  # materialise what comes from factory patterns
    configs = catalog.to_config()[0]
    moved: dict[str, str] = {}
    datasets: dict[str, AbstractDataset] = {}
    for name in names:
        config = dict(configs.get(name) or {})
        path_key = next((key for key in PATH_KEYS if isinstance(config.get(key), str)), None)
        if path_key is None or name not in catalog:
            continue
        original = config[path_key]
        if original not in moved:
            base = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(original.rstrip("/")))
            moved[original] = os.path.join(scratch, f"{len(moved)}", base or "data")
        config[path_key] = moved[original]
        for key in ("credentials", "fs_args", "versioned"):
            config.pop(key, None)
        datasets[name] = AbstractDataset.from_config(name, config)
    return datasets


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
    frame: Any,
    parameter_values: dict[str, Any],
    output: str,
    *,
    through_files: bool = False,
    produced: dict[str, str] | None = None,
    reached: Reached | None = None,
) -> Any:
    """Run the pipeline with Kedro's SequentialRunner on ``frame``, the artifacts as the session
    has them and the given parameter values, and return the output's value (a Spark or polars
    output as pandas, as a pandas caller of the model gets it).

    ``through_files``: the persisted intermediate datasets as the catalog defines them, in a
    scratch folder (a pipeline that converts between kinds); ``produced`` receives the kind of
    each value as its node returned it; ``reached``, the MLflow stores each node reached while it
    ran (``outside``)."""
    datasets = {name: catalog.get(name) for name in roles.artifacts}
    for name, value in {roles.data_input: frame, **parameter_values}.items():
        datasets[name] = MemoryDataset(value)
    with tempfile.TemporaryDirectory(prefix="kedro-mlflow-magic-reference-") as scratch:
        if through_files:
            datasets.update(scratch_datasets(pipeline, catalog, set(datasets), scratch))
        datasets.update(shared_transcoded_datasets(pipeline, set(datasets)))
        run_catalog = DataCatalog(datasets=datasets)
        nodes, kinds = RunningNodes(), ProducedKinds()
        hooks = create_hook_manager()
        hooks.register(nodes)
        hooks.register(kinds)
        running_node.remember(pipeline.nodes)
        reached = {} if reached is None else reached
        try:
            # the runner's own lines on a failure stay out: the error names the node
            with quiet_kedro(SILENT), watching_stores(reached):
                results = SequentialRunner().run(pipeline, run_catalog, hook_manager=hooks)
        except Exception as error:
            raise PipelineRunError(
                nodes.failed, error, reach_hint(reached, nodes.failed)
            ) from error
        finally:
            running_node.finished()
        if produced is not None:
            produced.update(kinds.kinds)
        # read before the scratch folder goes: a Spark frame loaded from it is lazy
        return to_pandas(results[output].load())
