"""``%kedro_log_model PIPELINE --input NAME``: log a pipeline as an MLflow model, with a
progress display and a summary (SPEC 6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from kedro_mlflow_magic.magics.common import (
    DATA_INPUT_ARGUMENT,
    FREEZE_ARGUMENT,
    PIPELINE_ARGUMENT,
    evaluate,
    frame_from,
    kedro_state,
    parse_line,
    quiet_call,
    show,
    update,
    user_errors,
)
from kedro_mlflow_magic.tracking.warmup import wait_for_warm_up

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

    from kedro_mlflow_magic.build.logged import LoggedModel
    from kedro_mlflow_magic.options import LogOptions


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


def log_options_from(arguments: Any) -> LogOptions:
    """The ``LogOptions`` of a parsed line (but its ``--signature``, an expression evaluated
    later, once the line's options are known to be right)."""
    from kedro_mlflow_magic.options import LogOptions

    return LogOptions(
        name=arguments.name, example_rows=arguments.example_rows,
        experiment=arguments.experiment, registered_model_name=arguments.register,
        alias=arguments.alias, run_id=arguments.run_id, run_name=arguments.run_name,
        extra_requirements=tuple(arguments.requirement), trace=arguments.trace,
    )  # fmt: skip


def environment_check(logged: LoggedModel) -> Any:
    """``--check-env``: the model checked in a fresh environment of its requirements, or the
    one-line error saying why it failed there (shown in the summary: the model is logged)."""
    from kedro_mlflow_magic.errors import EnvironmentCheckError
    from kedro_mlflow_magic.verify.environment_check import check_environment

    try:
        # the log pointed MLflow at its store (SPEC 7): the model is found there
        return check_environment(logged.model_info.model_uri)
    except EnvironmentCheckError as error:
        return error


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
@argument(
    "--output",
    metavar="NAME",
    default=None,
    help="the dataset the model returns: an output of the pipeline, or any dataset it produces",
)
@argument("--name", default="model", help="the model's name in the run (default: model)")
@argument("--experiment", metavar="NAME", default=None, help="the experiment for this log")
@argument("--run-id", metavar="RUN", default=None, help="log into this run (e.g. the training run)")
@argument("--run-name", metavar="NAME", default=None, help="the name of the new run")
@argument("--register", metavar="NAME", default=None, help="register the model under NAME")
@argument("--alias", default=None, help="set this alias on the registered version")
@argument(
    "--signature",
    metavar="VAR",
    default=None,
    help="a ModelSignature, or the editor %%kedro_signature returned (its .signature)",
)
@FREEZE_ARGUMENT
@argument(
    "--include",
    nargs="+",
    action="extend",
    default=[],
    metavar="PATH",
    help="a file (or folder) a node reads from the project's package folder, relative to it "
    "(src/<package>/): shipped beside the code, which alone ships otherwise",
)
@argument("--example-rows", type=int, default=5, metavar="N", help="rows in the input example (5)")
@argument(
    "--requirement",
    action="append",
    default=[],
    metavar="PACKAGE",
    help="a requirement the model needs that the scan of its imports misses (repeat it): a "
    "bare name is pinned to the version installed here, a specifier (pkg>=1.2) kept as given",
)
@argument(
    "--check-env",
    action="store_true",
    help="after the log, predict the input example in a fresh environment built from the "
    "model's requirements alone (uv) and show whether it agrees, in the summary",
)
@argument(
    "--trace",
    action="store_true",
    help="every predict of the model records an MLflow trace, a span per node",
)
def kedro_log_model(line: str, local_ns: Mapping[str, Any] | None = None) -> ModelInfo:
    """Log PIPELINE as a self-contained MLflow pyfunc model predicting on its data input, check
    that the reloaded model gives what the pipeline gives, show a summary and return the
    ``ModelInfo`` (``info = %kedro_log_model ...``)."""
    wait_for_warm_up()  # MLflow's imports must not run in two threads at once
    from kedro_mlflow_magic import progress as steps
    from kedro_mlflow_magic.display.log_summary import LoggingProgress
    from kedro_mlflow_magic.prepared import prepare_pipeline

    arguments = parse_line(kedro_log_model, line)
    with user_errors():
        options = log_options_from(arguments)
    state = kedro_state(local_ns)
    pipeline = state.pipeline(arguments.pipeline)
    sample = None
    if arguments.sample is not None:
        sample = frame_from(arguments.sample, local_ns, "--sample", state.catalog)
    if arguments.signature is not None:
        options = options.but(signature=signature_from(arguments.signature, local_ns))

    progress = LoggingProgress(
        arguments.name, registering=arguments.register is not None, checking=arguments.check_env
    )
    handle = show(progress)

    def advance(step: str) -> None:
        progress.advance(step)
        update(handle, progress)

    try:
        with user_errors(), quiet_call():
            advance(steps.COLLECTING)
            prepared = prepare_pipeline(
                pipeline, state.catalog, arguments.data_input, sample, output=arguments.output,
                freeze=tuple(arguments.freeze), project_path=state.project_path,
                include=tuple(arguments.include),
                config_loader=state.config_loader, pipelines=state.pipelines,
            )  # fmt: skip
            logged = prepared.log(options, progress=advance)
            if arguments.check_env:
                advance(steps.CHECKING_ENVIRONMENT)
                logged.environment_check = environment_check(logged)
    except BaseException:
        progress.fail()
        update(handle, progress)
        raise
    update(handle, logged)
    return logged.model_info
