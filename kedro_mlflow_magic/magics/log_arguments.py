"""The options of a log as the magics declare them, alike in ``%kedro_log_model`` and
``%kedro_signature`` (whose editor's "Log model" button logs with them), and the
``LogOptions`` they parse into."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.magic_arguments import argument

from kedro_mlflow_magic.magics.common import FREEZE_ARGUMENT, user_errors

if TYPE_CHECKING:
    from kedro_mlflow_magic.options import LogOptions

# Outermost first, as the magics' help lists them.
LOG_ARGUMENTS = (
    argument(
        "--output",
        metavar="NAME",
        default=None,
        help="the dataset the model returns: an output of the pipeline, or any dataset it produces",
    ),
    argument("--name", default="model", help="the model's name in the run (default: model)"),
    argument("--experiment", metavar="NAME", default=None, help="the experiment for this log"),
    argument(
        "--run-id", metavar="RUN", default=None, help="log into this run (e.g. the training run)"
    ),
    argument("--run-name", metavar="NAME", default=None, help="the name of the new run"),
    argument("--register", metavar="NAME", default=None, help="register the model under NAME"),
    argument("--alias", default=None, help="set this alias on the registered version"),
)
PACKAGING_ARGUMENTS = (
    FREEZE_ARGUMENT,
    argument(
        "--include",
        nargs="+",
        action="extend",
        default=[],
        metavar="PATH",
        help="a file (or folder) a node reads from the project's package folder, relative to "
        "it (src/<package>/): shipped beside the code, which alone ships otherwise",
    ),
    argument(
        "--example-rows", type=int, default=5, metavar="N", help="rows in the input example (5)"
    ),
    argument(
        "--requirement",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="a requirement the model needs that the scan of its imports misses (repeat it): "
        "a bare name is pinned to the version installed here, a specifier (pkg>=1.2) kept as "
        "given",
    ),
    argument(
        "--trace",
        action="store_true",
        help="every predict of the model records an MLflow trace, a span per node",
    ),
)


def log_arguments(*arguments: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Apply IPython argument decorators in the order they are listed (as if written one
    above the other)."""

    def apply(function: Callable[..., Any]) -> Callable[..., Any]:
        for decorate in reversed(arguments):
            function = decorate(function)
        return function

    return apply


def log_options_from(arguments: Any) -> LogOptions:
    """The ``LogOptions`` of a parsed line of a magic declared with ``LOG_ARGUMENTS`` and
    ``PACKAGING_ARGUMENTS`` (but a ``--signature``, an expression evaluated later, once the
    line's options are known to be right); a wrong option is a one-line ``UsageError``."""
    from kedro_mlflow_magic.options import LogOptions

    with user_errors():
        return LogOptions(
            name=arguments.name, example_rows=arguments.example_rows,
            experiment=arguments.experiment, registered_model_name=arguments.register,
            alias=arguments.alias, run_id=arguments.run_id, run_name=arguments.run_name,
            extra_requirements=tuple(arguments.requirement), trace=arguments.trace,
        )  # fmt: skip
