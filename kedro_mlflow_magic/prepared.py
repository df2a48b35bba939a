"""``PreparedPipeline``: the core object every face calls. A pipeline checked for packaging
(roles sorted, output chosen, sample as a frame), that infers its signature and logs itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from kedro.io import DataCatalog
from kedro.io.core import is_parameter
from kedro.pipeline import Pipeline
from mlflow.models.model import ModelInfo

from kedro_mlflow_magic import progress as steps
from kedro_mlflow_magic import runtime
from kedro_mlflow_magic.build.logged import LoggedModel, ModelContent
from kedro_mlflow_magic.build.manifest import leaf_entries, parameter_input_paths
from kedro_mlflow_magic.build.packaging import write_model
from kedro_mlflow_magic.build.project_code import modules_loaded
from kedro_mlflow_magic.build.shipped_code import (
    project_root_for,
    resolve_includes,
    shipped_packages,
)
from kedro_mlflow_magic.build.signature import (
    ParameterLeaf,
    infer_model_signature,
    leaves_from_signature,
    model_sample,
    output_column,
    parameter_leaves,
    sample_rows,
)
from kedro_mlflow_magic.build.signature_edits import conform_to_signature
from kedro_mlflow_magic.display.roles import left_out_lines
from kedro_mlflow_magic.errors import (
    AmbiguousDataInputError,
    ArtifactChangedError,
    NoDataInputError,
    PackagingError,
    ParityError,
    SampleError,
    UnknownDataInputError,
)
from kedro_mlflow_magic.inspect.data_input import model_pipeline
from kedro_mlflow_magic.inspect.kinds import as_kind, converts, data_input_kind, dataset_kinds
from kedro_mlflow_magic.inspect.outputs import choose_output, left_out_nodes
from kedro_mlflow_magic.inspect.roles import (
    PipelineInputs,
    inspect_pipeline,
)
from kedro_mlflow_magic.options import LogOptions, log_options
from kedro_mlflow_magic.progress import Progress, no_progress
from kedro_mlflow_magic.quiet import load_quietly, quiet_third_party
from kedro_mlflow_magic.runtime.kinds import PANDAS, SPARK
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
from kedro_mlflow_magic.verify.drift import ArtifactWatch
from kedro_mlflow_magic.verify.parity import Comparison, compare_results
from kedro_mlflow_magic.verify.reference_run import run_in_session

if TYPE_CHECKING:
    from mlflow.models import ModelSignature

# The parity check compares the reloaded model with Kedro's runner on the whole sample, up to
# this many rows (the first ones).
PARITY_ROWS = 10_000
PARITY_TAG = "kedro_mlflow_magic.parity"


def default_sample(catalog: DataCatalog, data_input: str) -> Any:
    """Without a sample: the data input's own dataset, when the catalog can load it."""
    if data_input in catalog:
        try:
            return load_quietly(catalog, data_input)
        except Exception as error:
            reason = f"loading it failed: {type(error).__name__}: {error}"
    else:
        reason = "it is not in the catalog"
    raise SampleError(
        f"no sample given and the data input '{data_input}' cannot be loaded ({reason}); "
        "pass a sample: sample=... in Python, --sample EXPR (a DataFrame in the notebook) "
        "or --sample DATASET (a catalog dataset) in a magic"
    )


def parameter_values(leaves: list[ParameterLeaf], names: list[str]) -> dict[str, Any]:
    """The value of each parameter input, rebuilt from the leaves as the model will."""
    return runtime.Parameters(leaf_entries(leaves), parameter_input_paths(names)).values(None)


def artifact_sources(roles: PipelineInputs) -> tuple[tuple[str, str], ...]:
    """Each MLflow model artifact and its pinned source, as the log summary shows them."""
    return tuple(
        (name, artifact.mlflow_model.describe())
        for name, artifact in roles.artifacts.items()
        if artifact.mlflow_model is not None
    )


@dataclass(frozen=True)
class PreparedPipeline:
    """A pipeline checked for packaging: pruned to its output, its inputs' roles sorted, and
    its sample as a frame. ``signature()`` infers the model's signature; ``log()`` logs it."""

    pipeline: Pipeline
    catalog: DataCatalog
    roles: PipelineInputs
    output: str
    # the sample as the model takes it through MLflow: a pandas frame (a Spark or polars sample
    # converted), or a numpy array of any rank
    sample: Any
    leaves: list[ParameterLeaf]
    project_path: Path | None = None
    # files a node reads from the package folder, shipped beside the code (relative paths)
    include: tuple[str, ...] = ()
    config_loader: Any = field(default=None, compare=False, repr=False)
    # SPEC 11: the kind the nodes get the data input in, and each dataset's kind
    data_kind: str | None = None
    kinds: dict[str, str] = field(default_factory=dict)
    # a Spark sample as given: the signature's input schema comes from its Spark schema
    spark_sample: Any = field(default=None, compare=False, repr=False)
    # the modules first imported while the reference run ran: the project's among them ship
    loaded_modules: set[str] = field(default_factory=set, compare=False, repr=False)

    @property
    def data_input(self) -> str:
        return str(self.roles.data_input)

    @cached_property
    def through_files(self) -> bool:
        """Whether the reference run converts through files (``kinds.converts``)."""
        return converts(self.kinds, self.data_kind, self.pipeline)

    def run_in_session(
        self, frame: Any, leaves: list[ParameterLeaf], produced: dict[str, str] | None = None
    ) -> Any:
        """The output Kedro's runner gives on ``frame`` (in the kind the nodes get it) with the
        parameters of ``leaves``; ``produced`` receives the kind of each value produced."""
        values = parameter_values(leaves, list(self.roles.parameters))
        return run_in_session(
            self.pipeline, self.catalog, self.roles, as_kind(frame, self.data_kind), values,
            self.output, through_files=self.through_files, produced=produced,
        )  # fmt: skip

    @cached_property
    def reference(self) -> tuple[Any, dict[str, str]]:
        """The pipeline's output on the sample with the session's parameters, and the kind of
        each value its nodes produced (computed once)."""
        produced: dict[str, str] = {}
        with modules_loaded(self.loaded_modules):
            output = self.run_in_session(self.sample, self.leaves, produced)
        return output, produced

    @property
    def sample_output(self) -> Any:
        """The pipeline's output on the sample with the session's parameters (computed once)."""
        return self.reference[0]

    def manifest_kinds(self) -> runtime.KindsEntry:
        """The manifest's ``kinds``: each dataset's, each produced value's, the data input's."""
        return runtime.KindsEntry(
            datasets=dict(self.kinds), values=dict(self.reference[1]), data_input=self.data_kind
        )

    @cached_property
    def output_column(self) -> str | None:
        """The column named after the output that a 1-D array or Series output becomes in the
        model (and its signature); None when the model returns the output as it is."""
        return output_column(self.sample_output, runtime.dataset_key(self.output))

    def as_model_output(self, value: Any) -> Any:
        """A pipeline output as the model returns it (``runtime.as_output_frame``)."""
        return runtime.as_output_frame(value, self.output_column)

    def signature(self) -> ModelSignature:
        """Inputs from the sample, outputs from running the pipeline on it (as the model returns
        them), parameters with their session values as defaults."""
        output = self.as_model_output(self.sample_output)
        inputs = self.sample if self.spark_sample is None else self.spark_sample
        return infer_model_signature(inputs, output, self.leaves)

    def expected_output(self, frame: Any, leaves: list[ParameterLeaf]) -> Any:
        """What the model must return on ``frame``: Kedro's runner's output, converted as the
        model converts it."""
        if frame is self.sample and leaves == self.leaves:
            return self.as_model_output(self.sample_output)
        return self.as_model_output(self.run_in_session(frame, leaves))

    def verify(self, model_uri: str, frame: Any, leaves: list[ParameterLeaf]) -> Comparison:
        """Reload the logged model and check it gives what Kedro's runner gives on ``frame``
        with the signature's parameter defaults; ParityError when not."""
        expected = self.expected_output(frame, leaves)
        # suppress_warnings: the requirements were just pinned from this very environment, so
        # MLflow's check of them (a scan of every installed package, seconds) has nothing to say
        reloaded = mlflow.pyfunc.load_model(model_uri, suppress_warnings=True)
        reloaded.unwrap_python_model().instrument(None, None)  # the check records no trace
        watch = ArtifactWatch.of(reloaded)
        prediction = reloaded.predict(frame)
        # a node that changed an artifact in place would make the model drift between calls
        watch.refuse_changes(model_uri, frame)
        comparison = compare_results(prediction, expected)
        if not comparison:
            raise ParityError(
                f"the reloaded model disagrees with the pipeline on the sample: {comparison.detail}"
            )
        return comparison

    def log(
        self,
        options: LogOptions | None = None,
        *,
        progress: Progress | None = None,
        **changes: Any,
    ) -> LoggedModel:
        """Log the pipeline as an MLflow pyfunc model, reload it and check parity on the sample
        (up to ``PARITY_ROWS`` rows), then register it when asked.

        ``options`` (a ``LogOptions``; the defaults when None), with any of its fields given as
        keywords (``log(name="churn", example_rows=3)``). The model goes into ``run_id`` when
        given, else the active run when it is live, else a new run (``run_name``) in
        ``experiment`` or the project's experiment (SPEC 7).
        """
        options = log_options(options, **changes)
        with quiet_third_party() as notes:
            logged = self.log_quietly(options, progress)
        logged.notes = (*logged.notes, *notes)
        return logged

    def log_quietly(self, options: LogOptions, progress: Progress | None = None) -> LoggedModel:
        """``log`` without the quiet: Kedro's and MLflow's logging and warnings as they come."""
        say = progress or no_progress
        say(steps.INFERRING)
        content = self.model_content(options.signature)
        destination = self.destination(content.packages, options.experiment)
        say(steps.LOGGING)
        requirement_notes: list[str] = []
        with (
            tracking_access(destination.tracking_uri, lambda: refused(options, destination)),
            logging_run(
                destination.experiment, run_id=options.run_id, run_name=options.run_name
            ) as run,
            failed_model_marked(last_model_id()),
        ):
            info = self.write(options, content, requirement_notes)
            say(steps.VERIFYING)
            with code_checked(info, self.pipeline, content.packages, self.project_root(content)):
                try:
                    comparison = self.verify_logged(info.model_uri, content, run.run_id)
                except ArtifactChangedError as changed:
                    # Kedro's runner gives each node a fresh load: the model copies what a node
                    # changes in place for every call instead, in a model logged anew
                    mark_failed(info.model_id)
                    content = replace(content, changed_by=changed.changes)
                    info = self.write(options, content, requirement_notes)
                    comparison = self.verify_logged(info.model_uri, content, run.run_id)
            version = self.register_verified(info, options, destination, say)
        say(steps.DONE)
        logged = self.summarise(info, comparison, run, destination, options, version)
        logged.notes = (*logged.notes, *requirement_notes, *copied_notes(content.changed_by))
        return logged

    def model_content(self, signature: ModelSignature | None) -> ModelContent:
        """What the model is made of: the signature (inferred when None) with the sample it
        holds for and the parameter leaves with its defaults, and the code that ships."""
        frame = self.sample
        if signature is None:
            signature = self.signature()
        elif signature.inputs is not None and signature.inputs.has_input_names():
            # an edited column type (long -> double) must hold for the example MLflow checks
            frame = conform_to_signature(frame, signature)
        self.reference  # noqa: B018 (run once: the modules it loads tell what code ships)
        packages = shipped_packages(self.pipeline, self.loaded_modules, self.project_path)
        return ModelContent(
            signature, frame, leaves_from_signature(self.leaves, signature), packages,
            resolve_includes(packages, self.include),
        )  # fmt: skip

    def project_root(self, content: ModelContent) -> Path | None:
        return project_root_for(content.packages, self.project_path)

    def destination(self, packages: dict[str, Path], experiment: str | None) -> store.Destination:
        """Where the model goes: the project's tracking (unless the user chose one) and the
        experiment of a new run, the asked one or the project's (SPEC 7)."""
        project_root = project_root_for(packages, self.project_path)
        package = next(iter(packages), None)
        return store.log_destination(project_root, self.config_loader, experiment, package)

    def write(
        self, options: LogOptions, content: ModelContent, notes: list[str] | None = None
    ) -> ModelInfo:
        """Stage and log the model into the active run; ``notes`` receives what the check of
        the nested MLflow models' requirements found."""
        return write_model(
            self.pipeline, self.catalog, self.roles, self.output,
            name=options.name, signature=content.signature,
            example=sample_rows(content.frame, options.example_rows), leaves=content.leaves,
            packages=content.packages, included=content.included,
            output_column=self.output_column, notes=notes, kinds=self.manifest_kinds(),
            changed_by=content.changed_by, added_requirements=options.extra_requirements,
            trace=options.trace,
        )  # fmt: skip

    def verify_logged(self, model_uri: str, content: ModelContent, run_id: str) -> Comparison:
        """``verify`` on the first ``PARITY_ROWS`` rows, its result tagged on the run."""
        frame = content.frame
        checked = frame if len(frame) <= PARITY_ROWS else sample_rows(frame, PARITY_ROWS)
        comparison = self.verify(model_uri, checked, content.leaves)
        mlflow.MlflowClient().set_tag(run_id, PARITY_TAG, comparison.detail)
        return comparison

    def register_verified(
        self,
        info: ModelInfo,
        options: LogOptions,
        destination: store.Destination,
        say: Progress,
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
        self,
        info: ModelInfo,
        comparison: Comparison,
        run: RunChoice,
        destination: store.Destination,
        options: LogOptions,
        version: int | None,
    ) -> LoggedModel:
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
            notes=(self.roles.note,) if self.roles.note else (),
            sources=artifact_sources(self.roles),
            left_out=tuple(left_out_lines(self.roles.left_out)),
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


def prepare_pipeline(
    pipeline: Pipeline,
    catalog: DataCatalog,
    data_input: str | None = None,
    sample: Any = None,
    *,
    output: str | None = None,
    freeze: tuple[str, ...] | list[str] = (),
    project_path: str | Path | None = None,
    include: tuple[str, ...] | list[str] | str = (),
    config_loader: Any = None,
    pipelines: Mapping[str, Pipeline] | None = None,
) -> PreparedPipeline:
    """Check that the pipeline can be packaged, raising the error that says why not, and return
    the ``PreparedPipeline``. Without ``sample``, the data input's own dataset is loaded.

    ``include``: files (or folders) a node reads from the project's package folder, as paths
    relative to it (``src/<package>/``); only they ship beside the package's Python source.
    ``config_loader`` (a session's ``context.config_loader``) is where kedro-mlflow settings are
    read, once; ``pipelines`` (the project's registered pipelines) help guess the data input.
    A kedro-mlflow ``PipelineML`` gives its inference pipeline and its ``input_name``.
    """
    pipeline, data_input, note = model_pipeline(pipeline, data_input)
    output = choose_output(pipeline, output)
    whole, pipeline = pipeline, pipeline.to_outputs(output)
    parameters = sorted(name for name in pipeline.inputs() if is_parameter(name))
    if data_input is not None and is_parameter(data_input):
        raise NoDataInputError(parameters, named=data_input)
    if parameters and len(parameters) == len(pipeline.inputs()):
        raise NoDataInputError(parameters)
    roles = inspect_pipeline(pipeline, catalog, data_input, freeze=freeze, pipelines=pipelines)
    if note is not None:
        roles.note = note
    roles.left_out = left_out_nodes(whole, pipeline)
    if data_input is not None and roles.data_input != data_input:
        raise UnknownDataInputError(data_input, roles.free_inputs)
    if roles.data_input is None:
        raise AmbiguousDataInputError(roles.data_input_candidates)
    if roles.problems:
        raise PackagingError(roles.problems)
    include = (include,) if isinstance(include, str) else tuple(include)
    if include:
        root = Path(project_path) if project_path is not None else None
        packages = shipped_packages(pipeline, project_path=root)
        resolve_includes(packages, include)  # a wrong path fails here, early
    if sample is None:
        sample = default_sample(catalog, roles.data_input)
    kinds = dataset_kinds(pipeline, catalog)
    data_kind = data_input_kind(catalog, roles.data_input, sample)
    if data_kind == SPARK and roles.data_input not in catalog and SPARK not in kinds.values():
        # a Spark sample of a pandas pipeline (nothing in it is Spark): converted, as before
        data_kind = PANDAS
    frame = model_sample(sample, name=f"the sample for '{roles.data_input}'")
    if len(frame) == 0:
        # no rows: no input example, and the parity check would compare nothing
        raise SampleError(
            f"the sample for '{roles.data_input}' has no rows; give at least one row to infer "
            "the signature and check parity on"
        )
    return PreparedPipeline(
        pipeline, catalog, roles, output, frame, parameter_leaves(roles.parameters),
        Path(project_path) if project_path is not None else None, include, config_loader,
        data_kind, kinds, sample if data_kind == SPARK else None,
    )  # fmt: skip


def log_pipeline_model(
    pipeline: Pipeline,
    catalog: DataCatalog,
    data_input: str | None,
    sample: Any,
    *,
    output: str | None = None,
    freeze: tuple[str, ...] | list[str] = (),
    project_path: str | Path | None = None,
    include: tuple[str, ...] | list[str] | str = (),
    progress: Progress | None = None,
    options: LogOptions | None = None,
    **changes: Any,
) -> ModelInfo:
    """Log ``pipeline`` as an MLflow pyfunc model predicting on ``data_input``, check that the
    reloaded model gives what the pipeline gives on the sample, and return its ModelInfo.

    A short wrapper over ``prepare_pipeline(...).log(options)``: the log's options are a
    ``LogOptions`` and/or its fields as keywords (``name``, ``signature``, ``example_rows``,
    ``registered_model_name``, ``alias``, ...), checked before any work. Logs into the active
    run, or into a new one in the project's experiment (SPEC 7).
    """
    options = log_options(options, **changes)
    (progress or no_progress)(steps.COLLECTING)
    prepared = prepare_pipeline(
        pipeline, catalog, data_input, sample, output=output, freeze=freeze,
        project_path=project_path, include=include,
    )  # fmt: skip
    return prepared.log(options, progress=progress).model_info
