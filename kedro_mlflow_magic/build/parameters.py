"""Parameter values as text and as JSON: a value a person types (``--params KEY=VALUE``, a
default in the signature editor) read with the parameter's type, and the JSON text that a
value MLflow's parameter schema cannot hold travels as (the model decodes it at predict time)."""

from __future__ import annotations

import ast
import json
from typing import Any

from mlflow.types import DataType
from mlflow.types.schema import ParamSpec

from kedro_mlflow_magic.errors import ParameterError


def json_text(value: Any, *, allow_nan: bool = True) -> str:
    """A parameter value as the JSON text it travels as (TypeError or ValueError when it
    cannot: an object JSON has no form for, or NaN and infinities with ``allow_nan=False``)."""
    return json.dumps(value, allow_nan=allow_nan)


def from_json_text(text: str) -> Any:
    """The value a parameter's JSON text holds."""
    return json.loads(text)


def type_name(data_type: Any) -> str:
    return getattr(data_type, "name", None) or str(data_type)


def parameter_type(spec: ParamSpec) -> str:
    """``double`` for a scalar, ``double[]`` for a 1-D list."""
    suffix = "[]" if spec.shape == (-1,) else ""
    return f"{type_name(spec.dtype)}{suffix}"


def read_text(text: str) -> Any:
    """Text typed by a person as a Python value: JSON first (``true``, ``[1, 2]``), then a
    Python literal (``True``, ``'a'``), else the text itself."""
    for reader in (json.loads, ast.literal_eval):
        try:
            return reader(text.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return text


def is_text(spec: ParamSpec) -> bool:
    """Whether the parameter is one string (its value is the text itself)."""

    return spec.dtype == DataType.string and spec.shape is None


def typed_value(spec: ParamSpec, text: str) -> Any:
    """``text`` read as a value of the parameter's type (JSON or a Python literal; text for a
    string), checked by MLflow's own parameter validation; ParameterError names the parameter
    when it does not fit."""

    text_types = (DataType.string, DataType.datetime)
    if is_text(spec):
        return text
    value = read_text(text)
    expected = parameter_type(spec)
    misread = (isinstance(value, str) and spec.dtype not in text_types) or (
        isinstance(value, bool) and type_name(spec.dtype) in NUMERIC_TYPES
    )
    try:
        if misread:
            raise ValueError(expected)
        return ParamSpec.validate_type_and_shape(repr(spec), value, spec.dtype, spec.shape)
    except Exception:
        raise ParameterError(
            f"parameter '{spec.name}': {text!r} is not a {expected}; type a {example(expected)}"
        ) from None


NUMERIC_TYPES = ("integer", "long", "float", "double")


EXAMPLES = {
    "boolean": "true or false",
    "integer": "whole number such as 3",
    "long": "whole number such as 3",
    "float": "number such as 0.5",
    "double": "number such as 0.5",
    "datetime": "date such as 2024-01-31",
}


def example(expected: str) -> str:
    if expected.endswith("[]"):
        return f"JSON list of {expected[:-2]} values such as [1, 2]"
    return EXAMPLES.get(expected, "value")
