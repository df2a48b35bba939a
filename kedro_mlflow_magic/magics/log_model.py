"""``%kedro_log_model PIPELINE --input NAME``: log a pipeline as an MLflow model, with a
progress display and a summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from kedro_mlflow_magic.magics.common import (
    DATA_INPUT_ARGUMENT,
    PIPELINE_ARGUMENT,
    VERBOSE_ARGUMENT,
    evaluate,
    frame_from,
    kedro_state,
    parse_line,
    quiet_call,
    show,
    update,
    user_errors,
)
from kedro_mlflow_magic.magics.log_arguments import (
    LOG_ARGUMENTS,
    PACKAGING_ARGUMENTS,
    log_arguments,
    log_options_from,
)
from kedro_mlflow_magic.tracking.warmup import wait_for_warm_up

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo


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
@log_arguments(*LOG_ARGUMENTS)
@argument(
    "--signature",
    metavar="VAR",
    default=None,
    help="a ModelSignature, or the editor %%kedro_signature returned (its .signature)",
)
@log_arguments(*PACKAGING_ARGUMENTS)
@argument(
    "--check-env",
    action="store_true",
    help="after the log, predict the input example in a fresh environment built from the "
    "model's requirements alone (uv) and show whether it agrees, in the summary",
)
@VERBOSE_ARGUMENT
def kedro_log_model(line: str, local_ns: Mapping[str, Any] | None = None) -> ModelInfo:
    """Log PIPELINE as a self-contained MLflow pyfunc model predicting on its data input, check
    that the reloaded model gives what the pipeline gives, show a summary and return the
    ``ModelInfo`` (``info = %kedro_log_model ...``)."""
    wait_for_warm_up()  # MLflow's imports must not run in two threads at once
    from kedro_mlflow_magic import progress as steps
    from kedro_mlflow_magic.display.log_summary import LoggingProgress
    from kedro_mlflow_magic.prepared import prepare_pipeline
    from kedro_mlflow_magic.verify.environment_check import with_environment_check

    arguments = parse_line(kedro_log_model, line)
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
        with user_errors(), quiet_call(arguments.verbose, report=False) as printed:
            advance(steps.COLLECTING)
            prepared = prepare_pipeline(
                pipeline, state.catalog, arguments.data_input, sample, output=arguments.output,
                freeze=tuple(arguments.freeze), include=tuple(arguments.include),
                project=state.description,
            )  # fmt: skip
            logged = prepared.log(options, progress=advance)
            if arguments.check_env:
                advance(steps.CHECKING_ENVIRONMENT)
                logged = with_environment_check(logged)
    except BaseException:
        progress.fail()
        update(handle, progress)
        raise
    logged.hold_printed(printed)
    update(handle, logged)
    return logged.model_info
