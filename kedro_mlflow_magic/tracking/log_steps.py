"""The steps of one log of a ``PreparedPipeline``: infer what the model holds, choose where it
goes, write it into a run, reload it and check parity, register it, and sum it up as a
``LoggedModel``. ``PreparedPipeline.log`` calls ``log_prepared``; every face goes through it.

Where runs go: ``docs/explanation/behaviour.md#where-runs-go``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import mlflow
from mlflow.models.model import ModelInfo

from kedro_mlflow_magic import progress as steps
from kedro_mlflow_magic.build.logged import LoggedModel, ModelContent
from kedro_mlflow_magic.build.packaging import write_model
from kedro_mlflow_magic.build.shipped_code import (
    project_root_for,
    resolve_includes,
    shipped_packages,
)
from kedro_mlflow_magic.build.signature import leaves_from_signature, sample_rows
from kedro_mlflow_magic.build.signature_edits import conform_to_signature
from kedro_mlflow_magic.display.roles import left_out_lines
from kedro_mlflow_magic.errors import ArtifactChangedError
from kedro_mlflow_magic.options import LogOptions
from kedro_mlflow_magic.progress import Progress, no_progress
from kedro_mlflow_magic.project import ProjectDescription
from kedro_mlflow_magic.tracking import store
from kedro_mlflow_magic.tracking.runs import (
    RunChoice,
    failed_model_marked,
    last_model_id,
    logging_run,
    mark_failed,
    register,
    tracking_access,
)
from kedro_mlflow_magic.verify.code_check import code_checked
from kedro_mlflow_magic.verify.outside import reach_notes
from kedro_mlflow_magic.verify.parity import Comparison

if TYPE_CHECKING:
    from mlflow.models import ModelSignature

    from kedro_mlflow_magic.prepared import PreparedPipeline

# The parity check compares the reloaded model with Kedro's runner on the whole sample, up to
# this many rows (the first ones).
PARITY_ROWS = 10_000
PARITY_TAG = "kedro_mlflow_magic.parity"


def log_prepared(
    prepared: PreparedPipeline, options: LogOptions, progress: Progress | None = None
) -> LoggedModel:
    """Log ``prepared`` with ``options``: Kedro's and MLflow's logging and warnings as they
    come (``PreparedPipeline.log`` quiets them)."""
    say = progress or no_progress
    say(steps.INFERRING)
    content = model_content(prepared, options.signature)
    destination = log_destination(prepared, content, options.experiment)
    say(steps.LOGGING)
    requirement_notes: list[str] = []
    with (
        tracking_access(destination.tracking_uri, lambda: refused(options, destination)),
        logging_run(
            destination.experiment, run_id=options.run_id, run_name=options.run_name
        ) as run,
        failed_model_marked(last_model_id()),
    ):
        info = write(prepared, options, content, requirement_notes)
        say(steps.VERIFYING)
        root = project_root_for(content.packages, prepared.project_path)
        with code_checked(info, prepared.pipeline, content.packages, root):
            try:
                comparison = verify_logged(prepared, info.model_uri, content, run.run_id)
            except ArtifactChangedError as changed:
                # Kedro's runner gives each node a fresh load: the model copies what a node
                # changes in place for every call instead, in a model logged anew
                mark_failed(info.model_id)
                content = replace(content, changed_by=changed.changes)
                info = write(prepared, options, content, requirement_notes)
                comparison = verify_logged(prepared, info.model_uri, content, run.run_id)
        version = register_verified(info, options, destination, say)
    say(steps.DONE)
    logged = summarise(prepared, info, comparison, run, destination, options, version)
    logged.notes = (*logged.notes, *requirement_notes, *copied_notes(content.changed_by))
    logged.notes = (*logged.notes, *prepared.contract.notes(content, options.signature))
    return logged


def model_content(prepared: PreparedPipeline, signature: ModelSignature | None) -> ModelContent:
    """What the model is made of: the signature (inferred when None) with the sample it holds
    for and the parameter leaves with its defaults, and the code that ships."""
    frame = prepared.sample
    if signature is None:
        signature = prepared.signature()
    elif signature.inputs is not None and signature.inputs.has_input_names():
        # an edited column type (long -> double) must hold for the example MLflow checks
        frame = conform_to_signature(frame, signature)
    prepared.reference  # noqa: B018 (run once: the modules it loads tell what code ships)
    packages = shipped_packages(prepared.pipeline, prepared.loaded_modules, prepared.project_path)
    return ModelContent(
        signature, frame, leaves_from_signature(prepared.leaves, signature), packages,
        resolve_includes(packages, prepared.include),
    )  # fmt: skip


def log_destination(
    prepared: PreparedPipeline, content: ModelContent, experiment: str | None
) -> store.Destination:
    """Where the model goes: the project's tracking (unless the user chose one) and the
    experiment of a new run, the asked one or the project's, read through the project's
    description (a project given without a path is found from the shipped packages)."""
    project = prepared.project
    root = project_root_for(content.packages, project.path)
    if root != project.path:
        project = ProjectDescription(root, project.env, project.config_loader, project.pipelines)
    return store.log_destination(project, experiment, next(iter(content.packages), None))


def write(
    prepared: PreparedPipeline,
    options: LogOptions,
    content: ModelContent,
    notes: list[str] | None = None,
) -> ModelInfo:
    """Stage and log the model into the active run; ``notes`` receives what the check of the
    nested MLflow models' requirements found."""
    return write_model(
        prepared.pipeline, prepared.catalog, prepared.roles, prepared.output,
        name=options.name, signature=content.signature,
        example=prepared.contract.example(content, options.signature, options.example_rows),
        leaves=content.leaves, batch_dependence=prepared.contract.manifest_entry(),
        packages=content.packages, included=content.included,
        output_column=prepared.output_column, notes=notes, kinds=prepared.manifest_kinds(),
        changed_by=content.changed_by, added_requirements=options.extra_requirements,
        trace=options.trace,
    )  # fmt: skip


def verify_logged(
    prepared: PreparedPipeline, model_uri: str, content: ModelContent, run_id: str
) -> Comparison:
    """``PreparedPipeline.verify`` on the first ``PARITY_ROWS`` rows, its result tagged on
    the run."""
    frame = content.frame
    checked = frame if len(frame) <= PARITY_ROWS else sample_rows(frame, PARITY_ROWS)
    comparison = prepared.verify(model_uri, checked, content.leaves)
    mlflow.MlflowClient().set_tag(run_id, PARITY_TAG, comparison.detail)
    return comparison


def register_verified(
    info: ModelInfo, options: LogOptions, destination: store.Destination, say: Progress
) -> int | None:
    """Register the verified model when asked (and set the alias); its version or None."""
    name = options.registered_model_name
    if not name:
        return None
    say(steps.REGISTERING)
    with tracking_access(destination.tracking_uri, lambda: f"registered model '{name}'"):
        version = int(register(info.model_uri, name, options.alias).version)
    info.registered_model_version = version
    return version


def summarise(
    prepared: PreparedPipeline,
    info: ModelInfo,
    comparison: Comparison,
    run: RunChoice,
    destination: store.Destination,
    options: LogOptions,
    version: int | None,
) -> LoggedModel:
    roles = prepared.roles
    return LoggedModel(
        model_info=info,
        comparison=comparison,
        run_id=run.run_id,
        run_reason=run.reason,
        tracking_uri=destination.tracking_uri,
        experiment_id=mlflow.MlflowClient().get_run(run.run_id).info.experiment_id,
        registered_model_name=options.registered_model_name,
        registered_version=version,
        alias=options.alias,
        notes=(*([roles.note] if roles.note else []), *reach_notes(prepared.reached)),
        sources=tuple(
            (name, artifact.mlflow_model.describe())
            for name, artifact in roles.artifacts.items()
            if artifact.mlflow_model is not None
        ),
        left_out=tuple(left_out_lines(roles.left_out)),
    )


def copied_notes(changed_by: Mapping[str, list[str]]) -> list[str]:
    """What the summary says of each artifact the model copies per call because nodes change it
    in place."""
    return [
        f"the model copies '{artifact}' for every call, because node "
        f"{' or '.join(map(repr, nodes))} changes it in place (Kedro's runner gives each node "
        "a fresh load); a node that works on a copy of its own saves that copy"
        for artifact, nodes in changed_by.items()
    ]


def refused(options: LogOptions, destination: store.Destination) -> str:
    """What a tracking server refused (403) when a log's run was started or written."""
    if options.run_id is not None:
        return f"run {options.run_id}"
    return destination.experiment.described()
