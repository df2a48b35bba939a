"""``%kedro_log_model PIPELINE --input NAME``: log a pipeline as an MLflow model, with a
progress display and a summary (SPEC 6)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from kedro_mlflow_magic.magics.shell import (
    DATA_INPUT_ARGUMENT,
    FREEZE_ARGUMENT,
    PIPELINE_ARGUMENT,
    KedroState,
    evaluate,
    frame_from,
    kedro_state,
    one_line,
    show,
    user_errors,
)

if TYPE_CHECKING:
    import pandas as pd
    from kedro.io import DataCatalog
    from kedro.pipeline import Pipeline
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

PARITY_TAG = "kedro_mlflow_magic.parity"


def chosen_data_input(
    pipeline: Pipeline, catalog: DataCatalog, data_input: str | None, freeze: tuple[str, ...]
) -> str:
    """The data input named by ``--input`` (checked against the pipeline's free inputs), or the
    only candidate when none is named."""
    from kedro_mlflow_magic.errors import AmbiguousDataInputError, UnknownDataInputError
    from kedro_mlflow_magic.roles import inspect_pipeline

    with user_errors():
        if data_input is not None:
            if data_input not in pipeline.inputs():
                raise UnknownDataInputError(data_input, pipeline.inputs())
            return data_input
        roles = inspect_pipeline(pipeline, catalog, None, freeze=freeze)
        if roles.data_input is None:
            raise AmbiguousDataInputError(roles.data_input_candidates)
        return roles.data_input


def default_sample(catalog: DataCatalog, data_input: str) -> Any:
    """Without ``--sample``: the data input's own dataset, when the catalog can load it."""
    if data_input in catalog:
        try:
            return catalog.load(data_input)
        except Exception as error:
            reason = f"loading it failed: {type(error).__name__}: {one_line(str(error))}"
    else:
        reason = "it is not in the catalog"
    raise UsageError(
        f"no --sample given and the data input '{data_input}' cannot be loaded ({reason}); "
        "pass --sample EXPR (a DataFrame in this notebook) or --sample DATASET (a catalog dataset)"
    )


def sample_frame(
    expression: str | None, catalog: DataCatalog, data_input: str, local_ns: Any
) -> pd.DataFrame:
    if expression is None:
        from kedro_mlflow_magic.magics.shell import as_frame

        return as_frame(default_sample(catalog, data_input), data_input, "the dataset")
    return frame_from(expression, local_ns, "--sample", catalog)


def signature_from(expression: str | None, local_ns: Any) -> ModelSignature | None:
    """``--signature VAR``: a ``ModelSignature``, or an object (the editor) with a ``.signature``."""
    if expression is None:
        return None
    from mlflow.models import ModelSignature

    value = evaluate(expression, local_ns, "--signature")
    signature = value if isinstance(value, ModelSignature) else getattr(value, "signature", None)
    if not isinstance(signature, ModelSignature):
        raise UsageError(
            f"--signature {expression}: a {type(value).__name__} is not a ModelSignature; give a "
            "ModelSignature or the editor that %kedro_signature returned"
        )
    return signature


def experiment_id_named(name: str, project_path: Path) -> str:
    """The id of the experiment ``name``, created when it does not exist (its artifacts under
    <project>/mlartifacts, unless a tracking server keeps them)."""
    import mlflow

    from kedro_mlflow_magic import tracking

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        if tracking.stores_its_own_artifacts(mlflow.get_tracking_uri()):
            return client.create_experiment(name)
        location = (project_path / "mlartifacts").resolve().as_uri()
        return client.create_experiment(name, artifact_location=location)
    if experiment.lifecycle_stage != "active":
        raise UsageError(
            f"--experiment {name}: the experiment is deleted; restore it "
            "(MlflowClient().restore_experiment) or choose another name"
        )
    return experiment.experiment_id


@contextlib.contextmanager
def experiment_run(name: str | None, project_path: Path) -> Iterator[None]:
    """``--experiment NAME``: log into a run of that experiment (for this log only)."""
    if name is None:
        yield
        return
    import mlflow

    from kedro_mlflow_magic import tracking

    tracking.use_project_tracking(project_path)
    experiment_id = experiment_id_named(name, project_path)
    active = mlflow.active_run()
    if active is not None:
        if active.info.experiment_id != experiment_id:
            raise UsageError(
                f"--experiment {name}: run {active.info.run_id} is active in another "
                "experiment; end it (mlflow.end_run()) or leave out --experiment"
            )
        yield
        return
    with mlflow.start_run(experiment_id=experiment_id):
        yield


def parity_of(info: ModelInfo) -> str | None:
    """The parity check ``log_pipeline_model`` recorded on the run."""
    import mlflow

    return mlflow.MlflowClient().get_run(info.run_id).data.tags.get(PARITY_TAG)


def register_model_info_text(shell: Any) -> None:
    """A one-line text form for MLflow's ``ModelInfo`` (it has none) in the Out prompt."""
    if shell is None:
        return

    def model_info_text(info: Any, printer: Any, cycle: bool) -> None:
        printer.text(f"ModelInfo(model_uri={info.model_uri!r}, run_id={info.run_id!r})")

    formatter = shell.display_formatter.formatters["text/plain"]
    formatter.for_type_by_name("mlflow.models.model", "ModelInfo", model_info_text)


def log_with_progress(
    state: KedroState, pipeline: Pipeline, data_input: str, frame: Any, arguments: Any, **extra
) -> ModelInfo:
    """Call ``log_pipeline_model`` with a display updated at each step, then show the summary."""
    from kedro_mlflow_magic.display import LoggingProgress, LogSummary
    from kedro_mlflow_magic.packaging import log_pipeline_model

    progress = LoggingProgress(arguments.name)
    handle = show(progress)

    def advance(step: str) -> None:
        progress.advance(step)
        if handle is not None:
            handle.update(progress)

    with experiment_run(arguments.experiment, state.project_path), user_errors():
        info = log_pipeline_model(
            pipeline,
            state.catalog,
            data_input,
            frame,
            output=arguments.output,
            name=arguments.name,
            example_rows=arguments.example_rows,
            registered_model_name=arguments.register,
            alias=arguments.alias,
            freeze=tuple(arguments.freeze),
            project_path=state.project_path,
            progress=advance,
            **extra,
        )
    summary = LogSummary(info, parity_of(info), arguments.register, arguments.experiment)
    if handle is not None:
        handle.update(summary)
    return info


@magic_arguments()
@PIPELINE_ARGUMENT
@DATA_INPUT_ARGUMENT
@argument(
    "--sample",
    metavar="EXPR|DATASET",
    default=None,
    help="a Python expression in this notebook (a DataFrame, array or Spark DataFrame) or a "
    "catalog dataset; default: the data input's own dataset, when it can be loaded",
)
@argument("--output", metavar="NAME", default=None, help="the output to predict (if several)")
@argument("--name", default="model", help="the model's name in the run (default: model)")
@argument("--experiment", metavar="NAME", default=None, help="the experiment for this log")
@argument("--register", metavar="NAME", default=None, help="register the model under NAME")
@argument("--alias", default=None, help="set this alias on the registered version")
@argument(
    "--signature",
    metavar="VAR",
    default=None,
    help="a ModelSignature, or the editor %%kedro_signature returned (its .signature)",
)
@FREEZE_ARGUMENT
@argument("--example-rows", type=int, default=5, metavar="N", help="rows in the input example (5)")
def kedro_log_model(line: str, local_ns: Mapping[str, Any] | None = None) -> ModelInfo:
    """Log PIPELINE as a self-contained MLflow pyfunc model predicting on its data input, check
    that the reloaded model gives what the pipeline gives, show a summary and return the
    ``ModelInfo`` (``info = %kedro_log_model ...``)."""
    arguments = parse_argstring(kedro_log_model, line)
    if arguments.alias and not arguments.register:
        raise UsageError(f"--alias {arguments.alias} needs --register NAME (the registered model)")
    state = kedro_state(local_ns)
    pipeline = state.pipeline(arguments.pipeline)
    freeze = tuple(arguments.freeze)
    data_input = chosen_data_input(pipeline, state.catalog, arguments.data_input, freeze)
    frame = sample_frame(arguments.sample, state.catalog, data_input, local_ns)
    signature = signature_from(arguments.signature, local_ns)
    info = log_with_progress(state, pipeline, data_input, frame, arguments, signature=signature)
    from IPython.core.getipython import get_ipython

    register_model_info_text(get_ipython())
    return info
