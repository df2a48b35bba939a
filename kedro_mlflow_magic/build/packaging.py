"""The files of a logged model: staged artifacts, the manifest, the runtime, the project's
source and pinned requirements, logged with MLflow as a model from code."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline

from kedro_mlflow_magic import runtime
from kedro_mlflow_magic.build.digests import record_artifact_digests
from kedro_mlflow_magic.build.manifest import build_manifest
from kedro_mlflow_magic.build.project_code import own_distributions
from kedro_mlflow_magic.build.requirements import (
    pinned_requirements,
    staged_value_module,
    with_added_requirements,
)
from kedro_mlflow_magic.build.shipped_code import (
    CODE_FOLDER,
    IncludedFile,
    project_root_for,
    runtime_importable,
    stage_code,
    stage_runtime,
)
from kedro_mlflow_magic.build.signature import ParameterLeaf
from kedro_mlflow_magic.build.staging import stage_artifact
from kedro_mlflow_magic.inspect.mlflow_models import merge_requirements, model_requirements
from kedro_mlflow_magic.inspect.roles import PipelineInputs
from kedro_mlflow_magic.quiet import load_quietly

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo


def artifact_value_modules(
    catalog: DataCatalog, staged: list[runtime.ArtifactEntry], staging: Path
) -> list[str]:
    """The module of each artifact's value type, for the requirements: read from its staged
    entry (``staged_value_module``); an artifact is loaded again only when that says nothing
    (a dataset that declares no type and is no plain pickle)."""
    modules = []
    for entry in staged:
        if entry.get("flavor"):
            continue  # an MLflow model: its own requirements say (nested_model_requirements)
        name = entry["dataset"]
        staged_file = staging / entry["artifact"] / entry["file"]
        module = staged_value_module(type(catalog.get(name)), staged_file)
        modules.append(module or type(load_quietly(catalog, name)).__module__)
    return modules


def kind_modules(kinds: runtime.KindsEntry | None) -> list[str]:
    """The libraries a model's kinds of data need where it loads: pyspark, polars."""
    if not kinds:
        return []
    used = {kinds.get("data_input"), *kinds["datasets"].values(), *kinds["values"].values()}
    libraries = {"spark": "pyspark", "polars": "polars", "polars-lazy": "polars"}
    return sorted({libraries[kind] for kind in used if kind in libraries})


def write_model(
    pipeline: Pipeline,
    catalog: DataCatalog,
    roles: PipelineInputs,
    output: str,
    *,
    name: str,
    signature: ModelSignature,
    example: pd.DataFrame,
    leaves: list[ParameterLeaf],
    packages: dict[str, Path],
    included: list[IncludedFile] | None = None,
    output_column: str | None = None,
    notes: list[str] | None = None,
    kinds: runtime.KindsEntry | None = None,
    changed_by: Mapping[str, list[str]] | None = None,
    added_requirements: tuple[str, ...] = (),
    batch_dependence: runtime.BatchDependenceEntry | None = None,
    trace: bool = False,
) -> ModelInfo:
    """Stage the artifacts and a clean copy of the project's code (its Python source and the
    ``included`` files), write the manifest and requirements, and log the model from code into
    the active run. ``output_column``: the column a 1-D output becomes (see the manifest);
    ``notes`` receives what the check of the nested MLflow models' requirements found;
    ``kinds``: the kinds of its data (pandas, Spark, polars, numpy), which pin pyspark or
    polars when used;
    ``changed_by``: artifact -> the nodes that change it in place (copied per call);
    ``added_requirements`` (pinned already, see ``LogOptions``) win over the scanned ones;
    ``batch_dependence``: what the manifest records of rows that depend on each other;
    ``trace``: the model records an MLflow trace of each call, a span per node."""
    with tempfile.TemporaryDirectory(prefix="kedro-mlflow-magic-") as staging_folder:
        staging = Path(staging_folder)
        taken: set[str] = {CODE_FOLDER}
        staged = [
            stage_artifact(artifact, catalog, staging, taken)
            for artifact in roles.artifacts.values()
        ]
        for entry in staged:
            if (changed_by or {}).get(entry["dataset"]):
                entry["changed_by"] = list(changed_by[entry["dataset"]])
        record_artifact_digests(staged, staging)
        included = list(included or [])
        code_paths = stage_code(packages, included, staging)
        entry_file, runtime_package = stage_runtime(staging)
        manifest = build_manifest(
            pipeline, str(roles.data_input), output, staged, leaves, list(roles.parameters),
            included_files=[entry.name for entry in included], output_column=output_column,
            added_requirements=list(added_requirements), kinds=kinds,
            batch_dependence=batch_dependence,
            trace=trace,
        )  # fmt: skip
        requirements = pinned_model_requirements(
            pipeline, catalog, packages, included, staged, staging, kinds, notes
        )
        requirements = with_added_requirements(requirements, added_requirements)
        with runtime_importable(runtime_package):
            return mlflow.pyfunc.log_model(
                name=name,
                python_model=str(entry_file),
                model_config=runtime.model_config_of(manifest),
                artifacts={entry["artifact"]: str(staging / entry["artifact"]) for entry in staged},
                code_paths=[str(path) for path in [*code_paths, runtime_package]],
                signature=signature,
                input_example=example,
                pip_requirements=requirements,
            )


def pinned_model_requirements(
    pipeline: Pipeline,
    catalog: DataCatalog,
    packages: dict[str, Path],
    included: list[IncludedFile],
    staged: list[runtime.ArtifactEntry],
    staging: Path,
    kinds: runtime.KindsEntry | None,
    notes: list[str] | None,
) -> list[str]:
    """The pinned requirements of what the nodes import and what the staged artifacts hold,
    with the nested MLflow models' own (the project's own distributions never)."""
    requirements = pinned_requirements(
        node_modules={node.func.__module__ for node in pipeline.nodes},
        shipped_packages={*packages, *(entry.module for entry in included)},
        # an MLflow model's catalog type (kedro-mlflow's) is not what loads it: its flavor is
        artifact_types=[entry["type"] for entry in staged if not entry.get("flavor")],
        artifact_modules=[
            *artifact_value_modules(catalog, staged, staging),
            *kind_modules(kinds),
        ],
        excluded=own_distributions(project_root_for(packages, None), next(iter(packages), None)),
    )
    return nested_model_requirements(requirements, staged, staging, notes)


def nested_model_requirements(
    requirements: list[str],
    staged: list[runtime.ArtifactEntry],
    staging: Path,
    notes: list[str] | None,
) -> list[str]:
    """Our requirements merged with those of each MLflow model shipped as an artifact, pinned
    to this environment's versions; what the check against this environment found goes to
    ``notes``."""
    for entry in staged:
        if not entry.get("flavor"):
            continue
        nested = model_requirements(staging / entry["artifact"] / entry["file"], entry["dataset"])
        requirements = merge_requirements(requirements, nested.pinned)
        if notes is not None:
            notes.extend(note for note in nested.notes if note not in notes)
    return requirements
