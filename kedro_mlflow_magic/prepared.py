"""``PreparedPipeline``: the core object every face calls. A pipeline checked for packaging
(roles sorted, output chosen, sample as a frame), that infers its signature and logs itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from kedro.io import DataCatalog
from kedro.io.core import is_parameter
from kedro.pipeline import Pipeline
from mlflow.models.model import ModelInfo

from kedro_mlflow_magic import progress as steps
from kedro_mlflow_magic import running_node, runtime
from kedro_mlflow_magic.build.logged import LoggedModel
from kedro_mlflow_magic.build.manifest import leaf_entries, parameter_input_paths
from kedro_mlflow_magic.build.project_code import modules_loaded
from kedro_mlflow_magic.build.shipped_code import resolve_includes, shipped_packages
from kedro_mlflow_magic.build.signature import (
    ParameterLeaf,
    infer_model_signature,
    model_sample,
    output_column,
    parameter_leaves,
)
from kedro_mlflow_magic.errors import (
    AmbiguousDataInputError,
    NoDataInputError,
    PackagingError,
    ParityError,
    SampleError,
    UnknownDataInputError,
)
from kedro_mlflow_magic.inspect.data_input import model_pipeline
from kedro_mlflow_magic.inspect.kinds import as_kind, converts, data_input_kind, dataset_kinds
from kedro_mlflow_magic.inspect.outputs import choose_output, left_out_nodes
from kedro_mlflow_magic.inspect.parameter_input import parameter_input
from kedro_mlflow_magic.inspect.roles import (
    PipelineInputs,
    inspect_pipeline,
)
from kedro_mlflow_magic.options import LogOptions, log_options, names
from kedro_mlflow_magic.progress import Progress, no_progress
from kedro_mlflow_magic.project import ProjectDescription
from kedro_mlflow_magic.quiet import load_quietly, quiet_third_party
from kedro_mlflow_magic.runtime.kinds import PANDAS, SPARK
from kedro_mlflow_magic.tracking.log_steps import PARITY_ROWS as PARITY_ROWS
from kedro_mlflow_magic.tracking.log_steps import PARITY_TAG as PARITY_TAG
from kedro_mlflow_magic.tracking.log_steps import log_prepared
from kedro_mlflow_magic.tracking.retries import bounded_retries
from kedro_mlflow_magic.verify.drift import ArtifactWatch
from kedro_mlflow_magic.verify.outside import Reached
from kedro_mlflow_magic.verify.parity import Comparison, compare_results
from kedro_mlflow_magic.verify.reference_run import run_in_session
from kedro_mlflow_magic.verify.serving_contract import ServingContract

if TYPE_CHECKING:
    from mlflow.models import ModelSignature


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
    # the project it comes from, as the face that prepared it described it
    project: ProjectDescription = field(default_factory=ProjectDescription)
    # files a node reads from the package folder, shipped beside the code (relative paths)
    include: tuple[str, ...] = ()
    # the kind the nodes get the data input in, and each dataset's kind
    # (docs/explanation/behaviour.md#data-as-kedro-gives-it)
    data_kind: str | None = None
    kinds: dict[str, str] = field(default_factory=dict)
    # a Spark sample as given: the signature's input schema comes from its Spark schema
    spark_sample: Any = field(default=None, compare=False, repr=False)
    # the modules first imported while the reference run ran: the project's among them ship
    loaded_modules: set[str] = field(default_factory=set, compare=False, repr=False)
    # the MLflow stores each node reached while our runs executed it (verify/outside.py)
    reached: Reached = field(default_factory=dict, compare=False, repr=False)

    @property
    def project_path(self) -> Path | None:
        return self.project.path

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
            reached=self.reached,
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
        return self.contract.signature(infer_model_signature(inputs, output, self.leaves))

    @cached_property
    def contract(self) -> ServingContract:
        """What a request must hold (columns read, rows depending on each other, parameter
        defaults to note), found on the sample once (``verify.serving_contract``)."""
        return ServingContract(self)

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
        reloaded = running_node.observed(reloaded)  # what its nodes print is held by node
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
        ``experiment`` or the project's experiment
        (``docs/explanation/behaviour.md#where-runs-go``).
        """
        options = log_options(options, **changes)
        with quiet_third_party() as notes, bounded_retries():
            logged = log_prepared(self, options, progress)
        logged.notes = (*logged.notes, *notes)
        return logged


def prepare_pipeline(
    pipeline: Pipeline,
    catalog: DataCatalog,
    data_input: str | None = None,
    sample: Any = None,
    *,
    output: str | None = None,
    freeze: tuple[str, ...] | list[str] | str = (),
    include: tuple[str, ...] | list[str] | str = (),
    project: ProjectDescription | None = None,
    project_path: str | Path | None = None,
) -> PreparedPipeline:
    """Check that the pipeline can be packaged, raising the error that says why not, and return
    the ``PreparedPipeline``. Without ``sample``, the data input's own dataset is loaded.

    ``include``: files (or folders) a node reads from the project's package folder, as paths
    relative to it (``src/<package>/``); only they ship beside the package's Python source.
    ``project``: the ``ProjectDescription`` of the project the pipeline comes from (its path,
    Kedro environment, the session's config loader and registered pipelines), which tells where
    the model goes and helps guess the data input; ``project_path=PATH`` is short for
    ``project=ProjectDescription(PATH)``. A kedro-mlflow ``PipelineML`` gives its inference
    pipeline and its ``input_name``.
    """
    if project is not None and project_path is not None:
        raise TypeError("prepare_pipeline: give project= or project_path=, not both")
    project = project if project is not None else ProjectDescription(project_path)
    pipeline, data_input, note = model_pipeline(pipeline, data_input)
    output = choose_output(pipeline, output)
    whole, pipeline = pipeline, pipeline.to_outputs(output)
    roles = checked_roles(pipeline, catalog, data_input, names(freeze), project.pipelines)
    if note is not None:
        roles.note = note
    roles.left_out = left_out_nodes(whole, pipeline)
    include = names(include)
    if include:  # a wrong path fails here, early
        resolve_includes(shipped_packages(pipeline, project_path=project.path), include)
    data_kind = None
    if is_parameter(roles.data_input):  # the model takes the parameter's fields, a row a call
        sample, data_kind = parameter_input(catalog, roles.data_input, sample)
    if sample is None:
        sample = default_sample(catalog, roles.data_input)
    kinds = dataset_kinds(pipeline, catalog)
    data_kind = data_kind or data_input_kind(catalog, roles.data_input, sample)
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
        pipeline, catalog, roles, output, frame, parameter_leaves(roles.parameters), project,
        include, data_kind, kinds, sample if data_kind == SPARK else None,
    )  # fmt: skip


def checked_roles(
    pipeline: Pipeline,
    catalog: DataCatalog,
    data_input: str | None,
    freeze: tuple[str, ...],
    pipelines: Mapping[str, Pipeline],
) -> PipelineInputs:
    """The roles of the pipeline's inputs, when it has a data input and no problem; else the
    error that says what is wrong."""
    parameters = sorted(name for name in pipeline.inputs() if is_parameter(name))
    if data_input is None and parameters and len(parameters) == len(pipeline.inputs()):
        raise NoDataInputError(parameters)
    roles = inspect_pipeline(pipeline, catalog, data_input, freeze=freeze, pipelines=pipelines)
    if data_input is not None and roles.data_input != data_input:
        raise UnknownDataInputError(data_input, roles.free_inputs)
    if roles.data_input is None:
        raise AmbiguousDataInputError(roles.data_input_candidates)
    if roles.problems:
        raise PackagingError(roles.problems)
    return roles


def log_pipeline_model(
    pipeline: Pipeline,
    catalog: DataCatalog,
    data_input: str | None,
    sample: Any,
    *,
    output: str | None = None,
    freeze: tuple[str, ...] | list[str] | str = (),
    include: tuple[str, ...] | list[str] | str = (),
    project: ProjectDescription | None = None,
    project_path: str | Path | None = None,
    progress: Progress | None = None,
    options: LogOptions | None = None,
    **changes: Any,
) -> ModelInfo:
    """Log ``pipeline`` as an MLflow pyfunc model predicting on ``data_input``, check that the
    reloaded model gives what the pipeline gives on the sample, and return its ModelInfo.

    A short wrapper over ``prepare_pipeline(...).log(options)``: the log's options are a
    ``LogOptions`` and/or its fields as keywords (``name``, ``signature``, ``example_rows``,
    ``registered_model_name``, ``alias``, ...), checked before any work. Logs into the active
    run, or into a new one in the project's experiment
    (``docs/explanation/behaviour.md#where-runs-go``).
    """
    options = log_options(options, **changes)
    (progress or no_progress)(steps.COLLECTING)
    prepared = prepare_pipeline(
        pipeline, catalog, data_input, sample, output=output, freeze=freeze, include=include,
        project=project, project_path=project_path,
    )  # fmt: skip
    return prepared.log(options, progress=progress).model_info
