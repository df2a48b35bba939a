"""Signature and input-example inference: the sample as a frame, parameters as flat leaves."""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature, infer_signature

from kedro_mlflow_magic import runtime
from kedro_mlflow_magic.build.parameters import from_json_text, json_text
from kedro_mlflow_magic.errors import ParameterError, SampleError
from kedro_mlflow_magic.quiet import note_for, records_dropped
from kedro_mlflow_magic.runtime.conversions import to_pandas
from kedro_mlflow_magic.runtime.kinds import SPARK

SPARK_SAMPLE_ROWS = 10_000


def checked_input(value: Any, name: str = "sample") -> Any:
    """A sample or model input of a kind the model takes: a pandas DataFrame (a Series
    becomes one), a numpy array of any rank, a Spark or a polars DataFrame, kept in its kind;
    SampleError naming any other value."""
    if isinstance(value, pd.Series):
        return value.to_frame()
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            raise SampleError(f"{name} is a 0-D array (a scalar); give an array of rows")
        return value
    if runtime.kind_of(value) is not None:
        return value
    module = type(value).__module__.partition(".")[0]
    described = type(value).__name__ if module == "builtins" else f"{module} {type(value).__name__}"
    raise SampleError(
        f"{name} is a {described}; give a pandas, Spark or polars DataFrame or a numpy array"
    )


def model_sample(sample: Any, name: str = "sample") -> Any:
    """The sample as the model takes it through MLflow: a pandas DataFrame (a Spark sample's
    first rows, a polars frame converted), or a numpy array of any rank as it is."""
    sample = checked_input(sample, name)
    if isinstance(sample, (pd.DataFrame, np.ndarray)):
        return sample
    kind = runtime.kind_of(sample)
    if kind == SPARK:
        return sample.limit(SPARK_SAMPLE_ROWS).toPandas()
    return to_pandas(sample)


def sample_rows(sample: Any, rows: int) -> Any:
    """The first ``rows`` rows of a frame or an array."""
    return sample.head(rows) if isinstance(sample, pd.DataFrame) else sample[:rows]


@dataclass(frozen=True)
class ParameterLeaf:
    """One overridable parameter of the model: a scalar or list, or a value kept as JSON."""

    name: str
    path: tuple[str, ...]
    value: Any
    encoding: str  # "plain": MLflow holds it as it is; "json": it travels as JSON text

    @property
    def schema_default(self) -> Any:
        return json_text(self.value) if self.encoding == "json" else self.value


def parameter_path(input_name: str) -> tuple[str, ...]:
    """``params:model.C`` -> ("model", "C"); ``parameters`` -> ()."""
    if input_name == "parameters":
        return ()
    return tuple(input_name.removeprefix("params:").split("."))


def plain(value: Any) -> Any:
    """numpy scalars and tuples as the Python values MLflow's parameter schema takes."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def is_schema_storable(value: Any) -> bool:
    """Whether MLflow's parameter schema holds the value as it is (scalars, flat lists)."""
    if value is None:
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            signature = infer_signature(params={"value": value})
    except Exception:
        return False
    return signature.params is not None and len(signature.params.params) == 1


def parameter_leaves(parameters: dict[str, Any]) -> list[ParameterLeaf]:
    """Flatten the pipeline's parameter inputs into overridable leaves named by dotted keys."""
    leaves: dict[tuple[str, ...], ParameterLeaf] = {}

    def visit(path: tuple[str, ...], value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                visit((*path, str(key)), item)
            return
        value = plain(value)
        name = ".".join(path)
        if is_schema_storable(value):
            leaves[path] = ParameterLeaf(name, path, value, "plain")
            return
        try:
            json_text(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ParameterError(
                f"parameter '{name}' holds a {type(value).__name__} that can be stored neither "
                "in MLflow's parameter schema nor as JSON; make it a number, text, list or dict "
                "in parameters.yml"
            ) from error
        leaves[path] = ParameterLeaf(name, path, value, "json")

    # the broadest inputs first, so a nested input (params:model.C) adds nothing twice
    for input_name in sorted(parameters, key=lambda name: len(parameter_path(name))):
        path = parameter_path(input_name)
        if any(path[: len(other)] == other for other in leaves):
            continue
        visit(path, parameters[input_name])
    return list(leaves.values())


def leaves_from_signature(
    leaves: list[ParameterLeaf], signature: ModelSignature | None
) -> list[ParameterLeaf]:
    """The leaves with the defaults of ``signature`` (edited defaults win over session values)."""
    if signature is None or signature.params is None:
        return leaves
    defaults = {spec.name: spec.default for spec in signature.params.params}
    edited = []
    for leaf in leaves:
        if leaf.name not in defaults:
            edited.append(leaf)
            continue
        default = defaults[leaf.name]
        if leaf.encoding == "json":
            with contextlib.suppress(TypeError, ValueError):
                default = from_json_text(default)
        edited.append(ParameterLeaf(leaf.name, leaf.path, plain(default), leaf.encoding))
    return edited


def infer_model_signature(frame: Any, output: Any, leaves: list[ParameterLeaf]) -> ModelSignature:
    """Inputs from the sample, outputs from the pipeline's result on it, parameters with defaults."""

    params = {leaf.name: leaf.schema_default for leaf in leaves} or None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signature = infer_signature(model_input=frame, model_output=output, params=params)
    # MLflow's hint about integer columns matters (a quiet log turns it into a note); the rest
    # of what it says while inferring does not
    for warning in caught:
        if note_for(str(warning.message)) is not None:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno or 0
            )
            break
    return signature


def output_column(output: Any, name: str) -> str | None:
    """The column the pipeline's output becomes in the model (``runtime.as_output_frame``):
    ``name`` (the output dataset's) for a 1-D array or a Series whose values MLflow types as one
    column (text, numbers, booleans, datetimes, ...); None for any other output, which the model
    returns as it is (a frame, a 2-D array, a dict, a scalar, a mix of text and numbers)."""
    frame = runtime.as_output_frame(output, name)
    if frame is output:
        return None
    # MLflow logs a warning when it cannot type the values; here that only means "keep them"
    with records_dropped("mlflow.models.signature"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = infer_signature(model_output=frame).outputs
    typed = schema is not None and schema.has_input_names() and schema.input_names() == [name]
    return name if typed else None
