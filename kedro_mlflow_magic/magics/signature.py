"""``%kedro_signature PIPELINE --input NAME --sample EXPR``: the signature editor, whose "Log
model" button logs with the options ``%kedro_log_model`` takes (``--include``, ``--register``...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.getipython import get_ipython
from IPython.core.magic_arguments import argument, magic_arguments

from kedro_mlflow_magic.magics.common import (
    DATA_INPUT_ARGUMENT,
    PIPELINE_ARGUMENT,
    VERBOSE_ARGUMENT,
    frame_from,
    kedro_state,
    parse_line,
    quiet_call,
    show,
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
    from kedro_mlflow_magic.widgets.signature_editor import SignatureEditor


@magic_arguments()
@PIPELINE_ARGUMENT
@DATA_INPUT_ARGUMENT
@argument(
    "--sample",
    required=True,
    metavar="EXPR",
    help="a frame to infer the signature from: a Python expression in this notebook "
    "or a catalog dataset name",
)
@log_arguments(*LOG_ARGUMENTS, *PACKAGING_ARGUMENTS)
@VERBOSE_ARGUMENT
def kedro_signature(line: str, local_ns: Mapping[str, Any] | None = None) -> SignatureEditor:
    """Show the signature editor for PIPELINE (input column types and required flags, output,
    parameters with defaults) and return it: ``.signature`` is the edited ModelSignature and its
    "Log model" button logs the pipeline with it and this line's options."""
    wait_for_warm_up()  # MLflow's imports must not run in two threads at once
    from kedro_mlflow_magic.prepared import prepare_pipeline
    from kedro_mlflow_magic.widgets import SignatureEditor

    arguments = parse_line(kedro_signature, line)
    options = log_options_from(arguments)
    state = kedro_state(local_ns)
    pipeline = state.pipeline(arguments.pipeline)
    sample = frame_from(arguments.sample, local_ns, "--sample", state.catalog)
    shell = get_ipython()
    with user_errors(), quiet_call(arguments.verbose):
        prepared = prepare_pipeline(
            pipeline, state.catalog, arguments.data_input, sample, output=arguments.output,
            freeze=tuple(arguments.freeze), include=tuple(arguments.include),
            project=state.description,
        )  # fmt: skip
        editor = SignatureEditor(
            prepared, options, shown_in=shell.execution_count if shell is not None else None
        )
    show(editor)
    return editor
