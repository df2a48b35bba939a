"""``%kedro_predict [MODEL_URI] --data EXPR`` and ``%%kedro_predict`` (CSV cell): predict with a
logged model, optionally compared with the pipeline run in the session (SPEC 6)."""

from __future__ import annotations

import ast
import io
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from kedro_mlflow_magic.magics.shell import (
    KedroState,
    frame_from,
    kedro_state,
    one_line,
    show,
    unquoted,
    user_errors,
)

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.pyfunc import PyFuncModel
    from mlflow.types import ParamSpec


MODEL_URI_FORMS = "runs:/<run id>/<name>, models:/<model id> or models:/<name>/<version>"
ERROR_LENGTH = 300

loaded_models: dict[str, PyFuncModel] = {}


def last_logged_model_uri() -> str:
    """The model logged last in this kernel (by the magics, the widgets or the Python API)."""
    import mlflow

    model = mlflow.last_logged_model()
    if model is None:
        raise UsageError(
            "no model has been logged in this kernel yet; run %kedro_log_model first "
            f"or give a MODEL_URI ({MODEL_URI_FORMS})"
        )
    return model.model_uri


def short_error(error: BaseException) -> str:
    text = one_line(str(error))
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 3] + "..."


def pinned_uri(model_uri: str) -> str:
    """Aliases move: ``models:/<name>@<alias>`` becomes the version it points at now."""
    name, at, alias = model_uri.removeprefix("models:/").partition("@")
    if not model_uri.startswith("models:/") or not at:
        return model_uri
    import mlflow

    version = mlflow.MlflowClient().get_model_version_by_alias(name, alias).version
    return f"models:/{name}/{version}"


def load_model(model_uri: str) -> PyFuncModel:
    """The pyfunc model at ``model_uri``, loaded once per URI (an alias's current version) and kept."""
    try:
        key = pinned_uri(model_uri)
        if key not in loaded_models:
            import mlflow

            loaded_models[key] = mlflow.pyfunc.load_model(key)
    except Exception as error:
        raise UsageError(
            f"cannot load the model '{model_uri}' ({type(error).__name__}: "
            f"{short_error(error)}); give a logged model's URI: {MODEL_URI_FORMS}"
        ) from None
    return loaded_models[key]


def literal(text: str) -> Any:
    """A ``--params`` value read as a Python literal, else kept as the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def json_parameters(model: PyFuncModel) -> set[str]:
    """Parameters that travel as JSON text (values MLflow's schema cannot hold as they are)."""
    entries = model.model_config.get("parameters", [])
    return {entry["name"] for entry in entries if entry.get("encoding") == "json"}


def converted(name: str, value: Any, spec: ParamSpec, as_json: bool) -> Any:
    """``value`` in the type of the parameter's spec; a ``UsageError`` names it when it cannot."""
    from mlflow.types import DataType, ParamSpec

    if as_json:
        return value if isinstance(value, str) else json.dumps(value)
    if spec.dtype == DataType.string and spec.shape is None and not isinstance(value, str):
        return str(value)
    try:
        return ParamSpec.validate_type_and_shape(repr(spec), value, spec.dtype, spec.shape)
    except Exception:
        kind = spec.dtype.name if spec.shape is None else f"list of {spec.dtype.name}"
        raise UsageError(
            f"--params {name}={value!r}: the parameter '{name}' takes a {kind} "
            f"(default {spec.default!r})"
        ) from None


def parsed_params(texts: list[str], model: PyFuncModel) -> dict[str, Any]:
    """``KEY=VALUE`` pairs, each VALUE a Python literal converted to the parameter's type in
    the model's signature; unknown parameters are named (MLflow itself would only warn)."""
    signature = model.metadata.get_params_schema()
    specs = {spec.name: spec for spec in signature.params} if signature is not None else {}
    encoded_as_json = json_parameters(model) if texts else set()
    params: dict[str, Any] = {}
    for text in map(unquoted, texts):
        name, separator, raw = text.partition("=")
        name = name.strip()
        if not separator or not name:
            raise UsageError(
                f"--params {text!r}: write KEY=VALUE, e.g. --params threshold=0.3 label=yes"
            )
        if name not in specs:
            known = ", ".join(specs) or "none"
            raise UsageError(
                f"--params: unknown parameter '{name}'; the model's parameters are: {known}"
            )
        params[name] = converted(name, literal(raw), specs[name], name in encoded_as_json)
    return params


def csv_frame(cell: str) -> pd.DataFrame:
    """The cell body of ``%%kedro_predict``: CSV with a header row."""
    import pandas as pd

    if not cell.strip():
        raise UsageError("the %%kedro_predict cell is empty; write CSV with a header row")
    try:
        return pd.read_csv(io.StringIO(cell.strip()), skipinitialspace=True)
    except Exception as error:
        raise UsageError(
            f"the %%kedro_predict cell is not CSV with a header row: {short_error(error)}"
        ) from None


def optional_state(local_ns: Mapping[str, Any] | None) -> KedroState | None:
    try:
        return kedro_state(local_ns)
    except UsageError:
        return None


def prediction_error(error: BaseException) -> str:
    """What went wrong in a prediction; for a frame that does not match the signature, MLflow's
    reason (the missing column...) without the whole frame and schema it quotes first."""
    text = one_line(str(error))
    if text.startswith("Failed to enforce schema of data") and ". Error: " in text:
        reason = text.rsplit(". Error: ", 1)[1]
        return f"the frame does not match the model's signature: {reason}"
    return short_error(error)


def predict(model: PyFuncModel, model_uri: str, frame: pd.DataFrame, params: dict) -> Any:
    """The model's prediction; a wrong input (missing column, wrong type) becomes one line."""
    try:
        return model.predict(frame, params=params or None)
    except Exception as error:
        raise UsageError(
            f"the model '{model_uri}' could not predict: {prediction_error(error)}"
        ) from None


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
def kedro_predict(
    line: str, cell: str | None = None, local_ns: Mapping[str, Any] | None = None
) -> Any:
    """Predict with a logged model on a frame (``--data EXPR``, or the cell as CSV with
    ``%%kedro_predict``), show and return the result (``result = %kedro_predict ...``)."""
    arguments = parse_argstring(kedro_predict, line)
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
    if state is not None:
        from kedro_mlflow_magic import tracking

        tracking.use_project_tracking(state.project_path)
    model_uri = unquoted(arguments.model_uri or "") or last_logged_model_uri()
    model = load_model(model_uri)
    params = parsed_params(arguments.params, model)
    result = predict(model, model_uri, frame, params)
    if arguments.compare:
        from kedro_mlflow_magic.display import ComparisonView
        from kedro_mlflow_magic.parity import compare_with_session

        with user_errors():
            comparison = compare_with_session(
                model, frame, state.pipelines, state.catalog, params, result
            )
        show(ComparisonView(comparison))
    return result
