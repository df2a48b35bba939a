"""``%kedro_predict [MODEL_URI] --data EXPR`` and ``%%kedro_predict`` (CSV cell): predict with a
logged model, optionally compared with the pipeline run in the session."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from kedro_mlflow_magic.errors import MODEL_URI_FORMS
from kedro_mlflow_magic.magics.common import (
    VERBOSE_ARGUMENT,
    KedroState,
    frame_from,
    kedro_state,
    parse_line,
    quiet_call,
    show,
    unquoted,
    user_errors,
)
from kedro_mlflow_magic.tracking.warmup import wait_for_warm_up

if TYPE_CHECKING:
    import pandas as pd


def csv_frame(cell: str) -> pd.DataFrame:
    """The cell body of ``%%kedro_predict``: CSV with a header row."""
    import pandas as pd

    from kedro_mlflow_magic.errors import short_error

    if not cell.strip():
        raise UsageError("the %%kedro_predict cell is empty; write CSV with a header row")
    try:
        return pd.read_csv(io.StringIO(cell.strip()), skipinitialspace=True)
    except Exception as error:
        raise UsageError(
            f"the %%kedro_predict cell is not CSV with a header row: {short_error(error)}"
        ) from None


def show_batch_note(model: Any, frame: Any) -> None:
    """A model whose rows depend on each other, given fewer rows than it was checked on."""
    from kedro_mlflow_magic.display.checks import NoteView
    from kedro_mlflow_magic.verify.batch_independence import fewer_rows_note

    note = fewer_rows_note(model.model_config, frame)
    if note is not None:
        show(NoteView(note))


def optional_state(local_ns: Mapping[str, Any] | None) -> KedroState | None:
    try:
        return kedro_state(local_ns)
    except UsageError:
        return None


@magic_arguments()
@argument(
    "model_uri",
    nargs="?",
    default=None,
    metavar="MODEL_URI",
    help=f"the model ({MODEL_URI_FORMS}); default: the model logged last in this kernel",
)
@argument(
    "--data",
    metavar="EXPR",
    default=None,
    help="a Python expression in this notebook giving the frame to predict on "
    "(the cell form %%%%kedro_predict reads the cell as CSV instead)",
)
@argument(
    "--params",
    nargs="+",
    action="extend",
    default=[],
    metavar="KEY=VALUE",
    help="parameter overrides; each VALUE is a Python literal (else text), converted to the "
    "parameter's type in the signature; nested keys are dotted (scoring.decimals=2)",
)
@argument(
    "--compare",
    action="store_true",
    help="also run the pipeline in the session on the same frame and show whether they agree",
)
@VERBOSE_ARGUMENT
@argument(
    "--profile",
    action="store_true",
    help="also time the model on the same frame and show each node's time per call",
)
def kedro_predict(
    line: str, cell: str | None = None, local_ns: Mapping[str, Any] | None = None
) -> Any:
    """Predict with a logged model on a frame (``--data EXPR``, or the cell as CSV with
    ``%%kedro_predict``), show and return the result (``result = %kedro_predict ...``)."""
    wait_for_warm_up()  # MLflow's imports must not run in two threads at once
    arguments = parse_line(kedro_predict, line)
    state = optional_state(local_ns)
    if arguments.compare and state is None:
        kedro_state(local_ns)  # raises the "run %reload_kedro" UsageError
    if cell is not None:
        if arguments.data is not None:
            raise UsageError("%%kedro_predict reads the cell as CSV: leave out --data")
        frame = csv_frame(cell)
    elif arguments.data is None:
        raise UsageError(
            "--data EXPR is missing: name the frame to predict on (e.g. --data df.head()), "
            "or write it as CSV in a %%kedro_predict cell"
        )
    else:
        frame = frame_from(arguments.data, local_ns, "--data")

    from kedro_mlflow_magic.tracking import prediction, store
    from kedro_mlflow_magic.verify.parity import compare_with_session

    with user_errors(), quiet_call(arguments.verbose):  # one line for what its nodes printed
        if state is not None:
            store.use_project_tracking(state.project_path, state.config_loader)
        model_uri = unquoted(arguments.model_uri or "") or prediction.last_logged_model_uri()
        model = prediction.models.load(model_uri)
        params = prediction.parse_params(map(unquoted, arguments.params), model)
        result = prediction.predict(model, frame, params, model_uri)
        if arguments.compare:
            comparison = compare_with_session(
                model, frame, state.pipelines, state.catalog, params, result
            )
    show_batch_note(model, frame)
    if arguments.compare:
        from kedro_mlflow_magic.display.checks import ComparisonView

        show(ComparisonView(comparison))
    if arguments.profile:
        from kedro_mlflow_magic.magics.profile import show_profile_under_result

        with user_errors(), quiet_call(arguments.verbose):
            show_profile_under_result(model_uri, frame, params)
    return result
