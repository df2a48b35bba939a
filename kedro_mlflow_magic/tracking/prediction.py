"""Predicting with a logged model: loading (cached, bounded), ``KEY=VALUE`` parameters typed
by the model's signature, and one-line errors for a frame or parameter that does not fit."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow.entities import LoggedModelStatus

from kedro_mlflow_magic.build.parameters import is_text, json_text, read_text, typed_value
from kedro_mlflow_magic.errors import (
    MODEL_URI_FORMS,
    ModelLoadError,
    ParameterError,
    PredictionError,
    model_read_error,
    one_line,
    short_error,
)
from kedro_mlflow_magic.runtime import read_manifest

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.pyfunc import PyFuncModel

CACHED_MODELS = 8


def last_logged_model_uri() -> str:
    """The model logged last in this process (by a magic, a widget or the Python API)."""
    model = mlflow.last_logged_model()
    if model is None:
        raise ModelLoadError(
            "no model has been logged in this kernel yet; run %kedro_log_model first "
            f"or give a MODEL_URI ({MODEL_URI_FORMS})"
        )
    if model.status == LoggedModelStatus.FAILED:
        # a failed log (parity, registration...) leaves its model FAILED: never predict with it
        raise ModelLoadError(
            "the last model logged in this kernel failed to log (its run "
            f"{model.source_run_id} is FAILED); log again or give a MODEL_URI ({MODEL_URI_FORMS})"
        )
    return model.model_uri


def pinned_uri(model_uri: str) -> str:
    """Aliases move: ``models:/<name>@<alias>`` becomes the version it points at now."""
    name, at, alias = model_uri.removeprefix("models:/").partition("@")
    if not model_uri.startswith("models:/") or not at:
        return model_uri
    version = mlflow.MlflowClient().get_model_version_by_alias(name, alias).version
    return f"models:/{name}/{version}"


class ModelCache:
    """Loaded models by store and URI (an alias resolved to its current version), the least
    recently used dropped beyond ``size``. ``models:/churn/1`` of one store is not that of
    another: a notebook that switches its tracking URI gets the other store's model."""

    def __init__(self, size: int = CACHED_MODELS) -> None:
        self.size = size
        self.models: OrderedDict[tuple[str, str, str], PyFuncModel] = OrderedDict()

    @staticmethod
    def key(model_uri: str) -> tuple[str, str, str]:
        """Where ``model_uri`` is looked up (the tracking and registry stores), and the URI."""
        return (mlflow.get_tracking_uri(), mlflow.get_registry_uri(), model_uri)

    def load(self, model_uri: str) -> PyFuncModel:
        """The pyfunc model at ``model_uri``; ModelLoadError says why it cannot be loaded."""
        try:
            pinned = pinned_uri(model_uri)
            key = self.key(pinned)
            if key not in self.models:
                self.models[key] = mlflow.pyfunc.load_model(pinned)
        except Exception as error:
            raise model_read_error(model_uri, error, "load", mlflow.get_tracking_uri()) from None
        self.models.move_to_end(key)
        while len(self.models) > self.size:
            self.models.popitem(last=False)
        return self.models[key]

    def __contains__(self, model_uri: str) -> bool:
        return self.key(model_uri) in self.models

    def __len__(self) -> int:
        return len(self.models)


models = ModelCache()


def json_parameters(model: PyFuncModel) -> set[str]:
    """Parameters that travel as JSON text (values MLflow's schema cannot hold as they are)."""
    manifest = read_manifest(model.model_config)
    entries = manifest["parameters"] if manifest is not None else []
    return {entry["name"] for entry in entries if entry["encoding"] == "json"}


def parse_params(texts: Iterable[str], model: PyFuncModel) -> dict[str, Any]:
    """``KEY=VALUE`` texts (``--params``), each VALUE read as a Python literal (else text) and
    converted to the parameter's type in the model's signature. An unknown parameter is named:
    MLflow itself would only warn and drop it."""
    texts = list(texts)
    schema = model.metadata.get_params_schema()
    specs = {spec.name: spec for spec in schema.params} if schema is not None else {}
    encoded_as_json = json_parameters(model) if texts else set()
    params: dict[str, Any] = {}
    for text in texts:
        name, separator, raw = text.partition("=")
        name = name.strip()
        if not separator or not name:
            raise ParameterError(
                f"--params {text!r}: write KEY=VALUE, e.g. --params threshold=0.3 label=yes"
            )
        if name not in specs:
            known = ", ".join(specs) or "none"
            raise ParameterError(
                f"--params: unknown parameter '{name}'; the model's parameters are: {known}"
            )
        spec, value = specs[name], read_text(raw)
        if name in encoded_as_json:
            params[name] = value if isinstance(value, str) else json_text(value)
            continue
        if is_text(spec):
            params[name] = value if isinstance(value, str) else raw.strip()
            continue
        try:
            params[name] = typed_value(spec, raw)
        except ParameterError:
            kind = spec.dtype.name if spec.shape is None else f"list of {spec.dtype.name}"
            raise ParameterError(
                f"--params {name}={value!r}: the parameter '{name}' takes a {kind} "
                f"(default {spec.default!r})"
            ) from None
    return params


def prediction_error(error: BaseException) -> str:
    """What went wrong in a prediction; for a frame that does not match the signature, MLflow's
    reason (the missing column...) without the whole frame and schema it quotes first."""
    text = one_line(str(error))
    if text.startswith("Failed to enforce schema of data") and ". Error: " in text:
        reason = text.rsplit(". Error: ", 1)[1]
        return f"the frame does not match the model's signature: {reason}"
    return short_error(error)


def predict(
    model: PyFuncModel, frame: pd.DataFrame, params: dict[str, Any] | None, model_uri: str
) -> Any:
    """The model's prediction; a wrong input (missing column, wrong type) is one line naming it."""
    try:
        return model.predict(frame, params=params or None)
    except Exception as error:
        raise PredictionError(
            f"the model '{model_uri}' could not predict: {prediction_error(error)}"
        ) from None
