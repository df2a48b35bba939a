"""``%kedro_diff BEFORE AFTER`` and ``%kedro_promote MODEL_URI --alias NAME``: review two
logged models, and move an alias only through that review (``compare_models``,
``promote_model``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.magic_arguments import argument, magic_arguments

from kedro_mlflow_magic.magics.common import (
    frame_from,
    parse_line,
    quiet_call,
    unquoted,
    user_errors,
)
from kedro_mlflow_magic.magics.predict import optional_state
from kedro_mlflow_magic.quiet import quiet_project_load
from kedro_mlflow_magic.tracking.warmup import wait_for_warm_up

if TYPE_CHECKING:
    from kedro_mlflow_magic.tracking.promotion import Promotion
    from kedro_mlflow_magic.verify.review import ModelDiff


def data_argument(default: str) -> Any:
    return argument(
        "--data",
        metavar="EXPR",
        default=None,
        help="a Python expression in this notebook giving the frame both models predict on "
        f"(default: the input example of {default})",
    )


URI_FORMS = (
    "models:/<name>/<version>, models:/<name>@<alias>, runs:/<run id>/<name>, models:/<model id>"
)


def use_session_tracking(local_ns: Mapping[str, Any] | None) -> None:
    """The models are looked up in the project's store when ``%reload_kedro`` loaded one, else
    where MLflow's tracking URI says."""
    from kedro_mlflow_magic.tracking import store

    state = optional_state(local_ns)
    if state is not None:
        store.use_project_tracking(state.project_path, state.config_loader)


def data_from(expression: str | None, local_ns: Mapping[str, Any] | None) -> Any:
    return None if expression is None else frame_from(expression, local_ns, "--data")


@magic_arguments()
@argument("before", metavar="BEFORE", help=f"the model before: {URI_FORMS}, or a model folder")
@argument("after", metavar="AFTER", help="the model after, in the same forms")
@data_argument("the model before")
def kedro_diff(line: str, local_ns: Mapping[str, Any] | None = None) -> ModelDiff:
    """Show what changed from the model BEFORE to the model AFTER (signature column by column,
    parameters' defaults, nodes, artifacts, requirements, versions), whether a caller of
    BEFORE could break on AFTER, and how their answers differ; return the ``ModelDiff``."""
    wait_for_warm_up()  # MLflow's imports must not run in two threads at once
    arguments = parse_line(kedro_diff, line)
    data = data_from(arguments.data, local_ns)
    with quiet_project_load():  # Kedro's runner logs its logging set-up when first imported
        from kedro_mlflow_magic.verify.review import compare_models
    with user_errors(), quiet_call():  # after the import: Kedro's printer is installed then
        use_session_tracking(local_ns)
        return compare_models(unquoted(arguments.before), unquoted(arguments.after), data)


@magic_arguments()
@argument(
    "model_uri",
    metavar="MODEL_URI",
    help=f"the registered model version to promote: {URI_FORMS} (registered once)",
)
@argument("--alias", required=True, metavar="NAME", help="the alias to move (e.g. champion)")
@data_argument("the version holding the alias")
@argument(
    "--force",
    action="store_true",
    help="move the alias even when the review finds a breaking change or different answers",
)
def kedro_promote(line: str, local_ns: Mapping[str, Any] | None = None) -> Promotion:
    """Move the alias NAME of MODEL_URI's registered model to that version, only when the
    review against the version holding it now finds nothing breaking and their answers agree
    (or with --force); show and return the ``Promotion``."""
    wait_for_warm_up()
    arguments = parse_line(kedro_promote, line)
    data = data_from(arguments.data, local_ns)
    with quiet_project_load():
        from kedro_mlflow_magic.tracking.promotion import promote_model
    with user_errors(), quiet_call():
        use_session_tracking(local_ns)
        return promote_model(
            unquoted(arguments.model_uri), unquoted(arguments.alias), data, force=arguments.force
        )
