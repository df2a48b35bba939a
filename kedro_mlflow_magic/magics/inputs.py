"""``%kedro_inputs PIPELINE``: the role of each free input of a pipeline
(docs/explanation/behaviour.md#input-roles)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.magic_arguments import argument, magic_arguments

from kedro_mlflow_magic.magics.common import (
    DATA_INPUT_ARGUMENT,
    FREEZE_ARGUMENT,
    PIPELINE_ARGUMENT,
    VERBOSE_ARGUMENT,
    kedro_state,
    parse_line,
    quiet_call,
    user_errors,
)
from kedro_mlflow_magic.tracking.warmup import wait_for_warm_up

if TYPE_CHECKING:
    from kedro_mlflow_magic.inspect.roles import PipelineInputs


EXPAND_ARGUMENT = argument(
    "--expand",
    nargs="+",
    action="extend",
    default=[],
    metavar="NAMESPACE",
    help="namespaces to open in the picture (repeatable; opening a.b opens a too)",
)


@magic_arguments()
@PIPELINE_ARGUMENT
@DATA_INPUT_ARGUMENT
@FREEZE_ARGUMENT
@EXPAND_ARGUMENT
@argument(
    "--output",
    metavar="NAME",
    default=None,
    help="the dataset the model returns (any the pipeline produces): roles of the part it needs",
)
@VERBOSE_ARGUMENT
def kedro_inputs(line: str, local_ns: Mapping[str, Any] | None = None) -> PipelineInputs:
    """Show the role of each free input of PIPELINE (data input, artifacts, parameters,
    problems with their fix) under a picture of the pipeline (each namespace one box until
    opened with --expand), and the nodes a model leaves out (--output: the part of the pipeline
    that dataset needs), and return the ``PipelineInputs``."""
    wait_for_warm_up()  # loading datasets imports what the warm-up may be importing
    from kedro_mlflow_magic.inspect.roles import inspect_pipeline

    arguments = parse_line(kedro_inputs, line)
    state = kedro_state(local_ns)
    pipeline = state.pipeline(arguments.pipeline)
    with user_errors(), quiet_call(arguments.verbose):
        roles = inspect_pipeline(
            pipeline, state.catalog, arguments.data_input, output=arguments.output,
            freeze=tuple(arguments.freeze), pipelines=state.description.pipelines,
        ).expand(*arguments.expand)  # fmt: skip
    return roles  # shown by IPython as the roles view: the picture above the table
