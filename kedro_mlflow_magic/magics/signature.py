"""``%kedro_signature PIPELINE --input NAME --sample EXPR``: the signature editor (SPEC 6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.getipython import get_ipython
from IPython.core.magic_arguments import argument, magic_arguments

from kedro_mlflow_magic.magics.common import (
    DATA_INPUT_ARGUMENT,
    FREEZE_ARGUMENT,
    PIPELINE_ARGUMENT,
    frame_from,
    kedro_state,
    parse_line,
    quiet_call,
    show,
    user_errors,
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
@argument(
    "--output",
    default=None,
    metavar="NAME",
    help="the dataset the model returns: an output of the pipeline, or any dataset it produces",
)
@argument("--name", default="model", metavar="NAME", help="the model's name in its run")
@FREEZE_ARGUMENT
def kedro_signature(line: str, local_ns: Mapping[str, Any] | None = None) -> SignatureEditor:
    """Show the signature editor for PIPELINE (input column types and required flags, output,
    parameters with defaults) and return it: ``.signature`` is the edited ModelSignature and its
    "Log model" button logs the pipeline with it."""
    wait_for_warm_up()  # MLflow's imports must not run in two threads at once
    from kedro_mlflow_magic.prepared import prepare_pipeline
    from kedro_mlflow_magic.widgets import SignatureEditor

    arguments = parse_line(kedro_signature, line)
    state = kedro_state(local_ns)
    pipeline = state.pipeline(arguments.pipeline)
    sample = frame_from(arguments.sample, local_ns, "--sample", state.catalog)
    with user_errors(), quiet_call():
        prepared = prepare_pipeline(
            pipeline, state.catalog, arguments.data_input, sample, output=arguments.output,
            freeze=tuple(arguments.freeze), project_path=state.project_path,
            config_loader=state.config_loader, pipelines=state.pipelines,
        )  # fmt: skip
        editor = SignatureEditor(prepared, name=arguments.name)
    show(editor)
    shell = get_ipython()
    editor.shown_in = shell.execution_count if shell is not None else None
    return editor
