"""log_pipeline_model: copy artifacts, code and requirements into an MLflow model; verify parity."""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from kedro.framework.hooks import _create_hook_manager, hook_impl
from kedro.io import AbstractDataset, DataCatalog, MemoryDataset
from kedro.io.core import is_parameter
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import SequentialRunner

from kedro_mlflow_magic import runtime, tracking
from kedro_mlflow_magic.errors import (
    AmbiguousDataInputError,
    ArtifactCopyError,
    NoDataInputError,
    OutputNotChosenError,
    PackagingError,
    ParityError,
    PipelineRunError,
    RegistrationError,
    SampleError,
    UnknownDataInputError,
)
from kedro_mlflow_magic.manifest import (
    StagedArtifact,
    build_manifest,
    leaf_entries,
    parameter_input_paths,
)
from kedro_mlflow_magic.parity import Comparison, compare_results
from kedro_mlflow_magic.requirements import pinned_requirements
from kedro_mlflow_magic.roles import Artifact, PipelineInputs, inspect_pipeline, quiet_kedro
from kedro_mlflow_magic.signature import (
    ParameterLeaf,
    infer_model_signature,
    leaves_from_signature,
    parameter_leaves,
    to_frame,
)
from kedro_mlflow_magic.signature_edits import conform_to_signature

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

Progress = Callable[[str], None]
RUNTIME_FILE = Path(runtime.__file__)
FROZEN_FILE = "value.pkl"


def choose_output(pipeline: Pipeline, output: str | None) -> str:
    outputs = sorted(pipeline.outputs())
    if output is not None:
        if output not in outputs:
            raise OutputNotChosenError(outputs, chosen=output)
        return output
    if len(outputs) != 1:
        raise OutputNotChosenError(outputs)
    return outputs[0]


def run_in_session(
    pipeline: Pipeline,
    catalog: DataCatalog,
    roles: PipelineInputs,
    frame: pd.DataFrame,
    parameter_values: dict[str, Any],
    output: str,
) -> Any:
    """Run the pipeline with Kedro's SequentialRunner on ``frame``, the artifacts as the session
    has them and the given parameter values, in a catalog of its own (the session's is untouched)."""
    datasets = {name: catalog.get(name) for name in roles.artifacts}
    for name, value in {roles.data_input: frame, **parameter_values}.items():
        datasets[name] = MemoryDataset(value)
    datasets.update(shared_transcoded_datasets(pipeline, set(datasets)))
    run_catalog = DataCatalog(datasets=datasets)
    failed = FailedNode()
    hooks = _create_hook_manager()
    hooks.register(failed)
    try:
        with quiet_kedro():
            results = SequentialRunner().run(pipeline, run_catalog, hook_manager=hooks)
    except Exception as error:
        raise PipelineRunError(failed.name, error, str(roles.data_input)) from error
    return results[output].load()


class FailedNode:
    """A Kedro hook that remembers which node raised, so that the error can name it."""

    def __init__(self) -> None:
        self.name: str | None = None

    @hook_impl
    def on_node_error(self, node: Node) -> None:
        self.name = node.name


class KeptMemoryDataset(MemoryDataset):
    """A MemoryDataset that the runner cannot release: the runner releases ``names@pickle`` as
    soon as it is saved (nothing loads that very name), before a node loads ``names@raw``."""

    def _release(self) -> None:
        pass


def shared_transcoded_datasets(pipeline: Pipeline, bound: set[str]) -> dict[str, MemoryDataset]:
    """One in-memory dataset for all transcoded names of an intermediate dataset (``names@pandas``,
    ``names@pickle``), so a node reads in one form what another node saved in another."""
    shared: dict[str, MemoryDataset] = {}
    datasets = {}
    for name in sorted(pipeline.datasets() - bound):
        if "@" in name:
            datasets[name] = shared.setdefault(runtime.dataset_key(name), KeptMemoryDataset())
    return datasets


def artifact_key(name: str, taken: set[str]) -> str:
    """A folder name for the artifact inside the model: safe whatever the dataset's name."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "artifact"
    key, index = base, 2
    while key in taken:
        key, index = f"{base}_{index}", index + 1
    taken.add(key)
    return key


def copy_path(source: str, destination: Path) -> None:
    """Hard-link (or copy) a file or folder into the staging area."""
    if os.path.isdir(source):
        shutil.copytree(source, destination, copy_function=link_or_copy)
    else:
        link_or_copy(source, destination)


def link_or_copy(source: str, destination: str | Path) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def stage_artifact(
    artifact: Artifact, catalog: DataCatalog, staging: Path, taken: set[str]
) -> StagedArtifact:
    """Put the artifact's files (or its frozen value) under ``staging/<key>/``."""
    key = artifact_key(artifact.name, taken)
    folder = staging / key
    folder.mkdir()
    if artifact.frozen:
        frozen = AbstractDataset.from_config(
            artifact.name, {"type": artifact.dataset_type, "filepath": str(folder / FROZEN_FILE)}
        )
        frozen.save(load_quietly(catalog, artifact.name))
        return StagedArtifact(
            artifact.name, artifact.dataset_type, key, FROZEN_FILE, "filepath", {}, True
        )
    config = dict(artifact.config)
    source = str(artifact.path)
    if config.pop("versioned", False):
        load_version = catalog.get(artifact.name).resolve_load_version()
        source = f"{source.rstrip('/')}/{load_version}/{os.path.basename(source.rstrip('/'))}"
    file_name = os.path.basename(source.rstrip("/")) or "data"
    if "://" in source and not source.startswith("file://"):
        # Remote data: read it through the session's dataset (its credentials stay there) and
        # write it with a local twin of the same type.
        twin = AbstractDataset.from_config(
            artifact.name,
            {**config, "type": artifact.dataset_type, artifact.path_key: str(folder / file_name)},
        )
        twin.save(load_quietly(catalog, artifact.name))
    else:
        try:
            copy_path(source.removeprefix("file://"), folder / file_name)
        except OSError as error:
            raise ArtifactCopyError(artifact.name, source, error) from error
    return StagedArtifact(
        artifact.name, artifact.dataset_type, key, file_name, artifact.path_key, config, False
    )


def load_quietly(catalog: DataCatalog, name: str) -> Any:
    with quiet_kedro():
        return catalog.load(name)


def shipped_packages(pipeline: Pipeline) -> dict[str, Path]:
    """The top-level packages of the node functions that live outside site-packages: the
    project's source, shipped inside the model."""
    packages: dict[str, Path] = {}
    for node in pipeline.nodes:
        top = node.func.__module__.split(".")[0]
        if top in packages or top in sys.stdlib_module_names:
            continue
        spec = importlib.util.find_spec(top)
        if spec is None or spec.origin is None:
            continue
        location = (
            Path(spec.origin).parent if spec.submodule_search_locations else Path(spec.origin)
        )
        if "site-packages" in location.parts or "dist-packages" in location.parts:
            continue
        packages[top] = location
    return packages


def project_root_for(packages: dict[str, Path], project_path: str | Path | None) -> Path | None:
    if project_path is not None:
        return Path(project_path).resolve()
    for location in packages.values():
        root = tracking.find_project_root(location)
        if root is not None:
            return root
    return tracking.find_project_root(Path.cwd())


@contextlib.contextmanager
def logging_run(experiment_id: str | None) -> Iterator[None]:
    """The active run, or a new one that ends FINISHED, or FAILED when logging fails."""
    import mlflow

    if mlflow.active_run() is not None:
        yield
        return
    mlflow.start_run(experiment_id=experiment_id)
    try:
        yield
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    mlflow.end_run()


def write_model(
    prepared: PreparedPipeline,
    *,
    name: str,
    signature: ModelSignature,
    example: pd.DataFrame,
    leaves: list[ParameterLeaf],
    packages: dict[str, Path],
) -> ModelInfo:
    """Stage the artifacts, write the manifest and requirements, and log the model from code."""
    import mlflow

    roles, catalog = prepared.roles, prepared.catalog
    with tempfile.TemporaryDirectory(prefix="kedro-mlflow-magic-") as staging_folder:
        staging = Path(staging_folder)
        taken: set[str] = set()
        staged = [
            stage_artifact(artifact, catalog, staging, taken)
            for artifact in roles.artifacts.values()
        ]
        manifest = build_manifest(
            prepared.pipeline, str(roles.data_input), prepared.output, staged, leaves,
            list(roles.parameters),
        )  # fmt: skip
        requirements = pinned_requirements(
            node_modules={node.func.__module__ for node in prepared.pipeline.nodes},
            shipped_packages=set(packages),
            artifact_types=[artifact.dataset_type for artifact in staged],
            artifact_objects=[load_quietly(catalog, name) for name in roles.artifacts],
        )
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(RUNTIME_FILE),
            model_config=manifest,
            artifacts={artifact.key: str(staging / artifact.key) for artifact in staged},
            code_paths=[str(location) for location in packages.values()],
            signature=signature,
            input_example=example,
            pip_requirements=requirements,
        )


def verify_parity(
    prepared: PreparedPipeline, model_uri: str, example: pd.DataFrame, leaves: list[ParameterLeaf]
) -> Comparison:
    """Reload the logged model and check it gives what Kedro's runner gives on the example, with
    the signature's parameter defaults; raise ParityError when not."""
    import mlflow

    values = parameter_values(leaves, list(prepared.roles.parameters))
    expected = run_in_session(
        prepared.pipeline, prepared.catalog, prepared.roles, example, values, prepared.output
    )
    reloaded = mlflow.pyfunc.load_model(model_uri)
    comparison = compare_results(reloaded.predict(example), expected)
    if not comparison:
        raise ParityError(
            f"the reloaded model disagrees with the pipeline on the input example: "
            f"{comparison.detail}"
        )
    return comparison


def register(info: ModelInfo, registered_model_name: str, alias: str | None) -> ModelInfo:
    """Register the logged model (after its parity check), set the alias, and return a copy
    of ``info`` carrying the registered version."""
    import mlflow

    version = mlflow.register_model(info.model_uri, registered_model_name)
    if alias:
        mlflow.MlflowClient().set_registered_model_alias(
            registered_model_name, alias, version.version
        )
    registered = copy.copy(info)
    registered.registered_model_version = int(version.version)
    return registered


@dataclass(frozen=True)
class PreparedPipeline:
    """A pipeline checked for packaging: pruned to its output, roles sorted, sample as a frame."""

    pipeline: Pipeline
    catalog: DataCatalog
    roles: PipelineInputs
    output: str
    frame: pd.DataFrame
    leaves: list[ParameterLeaf]


def prepare(
    pipeline: Pipeline,
    catalog: DataCatalog,
    data_input: str | None,
    sample: Any,
    *,
    output: str | None = None,
    freeze: tuple[str, ...] | list[str] = (),
) -> PreparedPipeline:
    """Check that the pipeline can be packaged (raising the error that says why not)."""
    output = choose_output(pipeline, output)
    pipeline = pipeline.to_outputs(output)
    parameters = sorted(name for name in pipeline.inputs() if is_parameter(name))
    if data_input is not None and is_parameter(data_input):
        raise NoDataInputError(parameters, named=data_input)
    if parameters and len(parameters) == len(pipeline.inputs()):
        raise NoDataInputError(parameters)
    roles = inspect_pipeline(pipeline, catalog, data_input, freeze=freeze)
    if data_input is not None and roles.data_input != data_input:
        raise UnknownDataInputError(data_input, roles.free_inputs)
    if roles.data_input is None:
        raise AmbiguousDataInputError(roles.data_input_candidates)
    if roles.problems:
        raise PackagingError(roles.problems)
    frame = to_frame(sample, name=f"the sample for '{roles.data_input}'")
    if frame.empty:
        # no rows: no input example, and the parity check would compare nothing
        raise SampleError(
            f"the sample for '{roles.data_input}' has no rows; give at least one row to infer "
            "the signature and check parity on"
        )
    leaves = parameter_leaves(roles.parameters)
    return PreparedPipeline(pipeline, catalog, roles, output, frame, leaves)


def parameter_values(leaves: list[ParameterLeaf], names: list[str]) -> dict[str, Any]:
    """The value of each parameter input, rebuilt from the leaves as the model will."""
    return runtime.Parameters(leaf_entries(leaves), parameter_input_paths(names)).values(None)


def infer_prepared_signature(prepared: PreparedPipeline) -> ModelSignature:
    output = run_in_session(
        prepared.pipeline, prepared.catalog, prepared.roles, prepared.frame,
        parameter_values(prepared.leaves, list(prepared.roles.parameters)), prepared.output,
    )  # fmt: skip
    return infer_model_signature(prepared.frame, output, prepared.leaves)


def infer_pipeline_signature(
    pipeline: Pipeline,
    catalog: DataCatalog,
    data_input: str | None,
    sample: Any,
    *,
    output: str | None = None,
    freeze: tuple[str, ...] | list[str] = (),
) -> ModelSignature:
    """The signature ``log_pipeline_model`` would infer: inputs from the sample, outputs from
    running the pipeline on it, parameters with their session values as defaults."""
    prepared = prepare(pipeline, catalog, data_input, sample, output=output, freeze=freeze)
    return infer_prepared_signature(prepared)


def log_pipeline_model(
    pipeline: Pipeline,
    catalog: DataCatalog,
    data_input: str | None,
    sample: Any,
    *,
    output: str | None = None,
    name: str = "model",
    signature: ModelSignature | None = None,
    example_rows: int = 5,
    registered_model_name: str | None = None,
    alias: str | None = None,
    freeze: tuple[str, ...] | list[str] = (),
    project_path: str | Path | None = None,
    progress: Progress | None = None,
) -> ModelInfo:
    """Log ``pipeline`` as an MLflow pyfunc model predicting on ``data_input``, check that the
    reloaded model gives what the pipeline gives on the input example, and return its ModelInfo.

    Logs into the active run, or into a new one in the project's experiment (SPEC 7).
    """
    say = progress or (lambda step: None)
    if example_rows < 1:
        raise SampleError(f"example_rows must be at least 1, not {example_rows}")
    if alias and not registered_model_name:
        raise RegistrationError(alias)
    say("collecting artifacts")
    prepared = prepare(pipeline, catalog, data_input, sample, output=output, freeze=freeze)
    frame = prepared.frame

    say("inferring the signature")
    if signature is None:
        signature = infer_prepared_signature(prepared)
    elif signature.inputs is not None and signature.inputs.has_input_names():
        # an edited column type (long -> double) must hold for the example MLflow checks too
        frame = conform_to_signature(frame, signature)
    example = frame.head(example_rows)
    leaves = leaves_from_signature(prepared.leaves, signature)

    import mlflow

    packages = shipped_packages(prepared.pipeline)
    project_root = project_root_for(packages, project_path)
    tracking.use_project_tracking(project_root)
    experiment_id = tracking.experiment_id_for(project_root, next(iter(packages), None))

    say("logging")
    with logging_run(experiment_id):
        info = write_model(
            prepared, name=name, signature=signature, example=example,
            leaves=leaves, packages=packages,
        )  # fmt: skip
        say("verifying")
        comparison = verify_parity(prepared, info.model_uri, example, leaves)
        mlflow.set_tag("kedro_mlflow_magic.parity", comparison.detail)
        if registered_model_name:
            info = register(info, registered_model_name, alias)
    say("done")
    return info
