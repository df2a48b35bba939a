"""Editing a model signature from plain edits: input column types, required flags, parameter
defaults typed as text. The signature editor widget is a view over these functions."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import DataType
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

from kedro_mlflow_magic.build.parameters import is_text, parameter_type, type_name, typed_value
from kedro_mlflow_magic.errors import KedroMlflowMagicError, ParameterError


class SignatureEditError(KedroMlflowMagicError, ValueError):
    """An edit names an unknown column or an unknown type."""


@dataclass(frozen=True)
class SignatureEdits:
    """What a person changed in an inferred signature, as plain values.

    ``parameter_defaults`` holds the text typed for each parameter (read with the parameter's
    type, so ``0.7`` is a number for a double and the text ``0.7`` for a string).
    """

    column_types: dict[str, str] = field(default_factory=dict)
    required: dict[str, bool] = field(default_factory=dict)
    parameter_defaults: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnRow:
    """One input or output column as the editor shows it."""

    name: str
    type: str
    required: bool


@dataclass(frozen=True)
class ParameterRow:
    """One parameter as the editor shows it: its type (``double``, ``string[]``...) and default
    as editable text."""

    name: str
    type: str
    default_text: str


def column_types() -> list[str]:
    """The MLflow column types a person can choose from (MLflow's own ``DataType`` names)."""

    return [data_type.name for data_type in DataType]


def column_rows(schema: Any) -> list[ColumnRow]:
    """The columns of a column-based schema (input or output); empty for none, or for a
    tensor (``tensor_text``)."""
    if schema is None or schema.is_tensor_spec():
        return []
    return [
        ColumnRow(
            spec.name if spec.name is not None else str(index),
            type_name(spec.type),
            spec.required,
        )
        for index, spec in enumerate(schema.inputs)
    ]


def tensor_text(schema: Any) -> str | None:
    """A tensor schema as the editor shows it (``float64, shape (-1, 4, 5)``); None for a
    column-based schema."""
    if schema is None or not schema.is_tensor_spec():
        return None
    return "; ".join(f"{spec.type}, shape {tuple(spec.shape)}" for spec in schema.inputs)


# The type filter's choices beyond the MLflow types themselves: what a bulk edit often needs.
ANY_TYPE = "any type"
INTEGER_TYPES = "integer or long"
TYPE_GROUPS = {INTEGER_TYPES: frozenset({"integer", "long"})}


def type_filters() -> list[str]:
    """The choices of the editor's type filter: any type, the groups, then each MLflow type."""
    return [ANY_TYPE, *TYPE_GROUPS, *column_types()]


def matching_columns(types: Mapping[str, str], text: str = "", kind: str = ANY_TYPE) -> list[str]:
    """The columns (in order) whose name contains ``text`` (case aside) and whose current type
    is ``kind`` (a type, a group of ``TYPE_GROUPS``, or any type): what the editor's filter
    shows and what a bulk edit changes."""
    wanted = text.strip().lower()
    kinds = TYPE_GROUPS.get(kind, frozenset({kind}))
    return [
        name
        for name, type_name_now in types.items()
        if (not wanted or wanted in name.lower()) and (kind == ANY_TYPE or type_name_now in kinds)
    ]


def default_text(spec: ParamSpec) -> str:
    """A parameter's default as text a person can edit: strings as they are, the rest as JSON."""
    if is_text(spec):
        return "" if spec.default is None else str(spec.default)
    return json.dumps(spec.default, default=str)


def parameter_rows(signature: ModelSignature) -> list[ParameterRow]:
    if signature.params is None:
        return []
    return [
        ParameterRow(spec.name, parameter_type(spec), default_text(spec))
        for spec in signature.params.params
    ]


def parse_default(spec: ParamSpec, text: str) -> ParamSpec:
    """The parameter with a new default read from ``text`` (see ``typed_value``)."""

    return ParamSpec(spec.name, spec.dtype, typed_value(spec, text), spec.shape)


def default_problems(signature: ModelSignature, edits: SignatureEdits) -> dict[str, str]:
    """Each edited parameter default that does not fit its type, with the message to show."""
    problems = {}
    for spec in signature.params.params if signature.params is not None else []:
        if spec.name in edits.parameter_defaults:
            try:
                parse_default(spec, edits.parameter_defaults[spec.name])
            except ParameterError as error:
                problems[spec.name] = str(error)
    return problems


def check_names(edits: SignatureEdits, columns: list[str], parameters: list[str]) -> None:
    """Edits must name columns and parameters of the signature and MLflow column types."""
    for name in [*edits.column_types, *edits.required]:
        if name not in columns:
            raise SignatureEditError(
                f"'{name}' is not an input column of the signature; "
                f"columns: {', '.join(columns) or '(none)'}"
            )
    for name in edits.parameter_defaults:
        if name not in parameters:
            raise ParameterError(
                f"'{name}' is not a parameter of the signature; "
                f"parameters: {', '.join(parameters) or '(none)'}"
            )
    known_types = column_types()
    for name, chosen in edits.column_types.items():
        if chosen not in known_types:
            raise SignatureEditError(
                f"column '{name}': '{chosen}' is not an MLflow type; "
                f"choose one of: {', '.join(known_types)}"
            )


def edit_signature(signature: ModelSignature, edits: SignatureEdits) -> ModelSignature:
    """A new signature: the inferred one with the edited column types, required flags and
    parameter defaults (the output schema is kept as inferred)."""

    if signature.inputs is not None and not signature.inputs.is_tensor_spec():
        input_specs = list(signature.inputs.inputs)
    else:
        input_specs = []
    columns = [spec.name for spec in input_specs]
    param_specs = list(signature.params.params) if signature.params is not None else []
    check_names(edits, columns, [spec.name for spec in param_specs])

    inputs = signature.inputs
    if input_specs:
        inputs = Schema(
            [
                ColSpec(
                    DataType[edits.column_types[spec.name]]
                    if spec.name in edits.column_types
                    else spec.type,
                    spec.name,
                    edits.required.get(spec.name, spec.required),
                )
                for spec in input_specs
            ]
        )
    params = signature.params
    if param_specs:
        params = ParamSchema(
            [
                parse_default(spec, edits.parameter_defaults[spec.name])
                if spec.name in edits.parameter_defaults
                else spec
                for spec in param_specs
            ]
        )
    return ModelSignature(inputs=inputs, outputs=signature.outputs, params=params)


def cast_column(values: pd.Series, chosen: str) -> pd.Series:
    """The sample's column as the MLflow type ``chosen``; ValueError when that changes values."""

    if chosen == "string":
        return values.astype(str)
    if chosen == "datetime":
        return pd.to_datetime(values)
    if chosen == "binary":
        return values.map(lambda value: str(value).encode())
    cast = values.astype(DataType[chosen].to_numpy())
    if not (cast == values).all():
        raise ValueError(f"some values would change (e.g. {values[cast != values].iloc[0]})")
    return cast


def converted_column(frame: pd.DataFrame, column: str, chosen: str) -> pd.Series:
    """The sample's ``column`` as the MLflow type ``chosen``; the error names the column."""
    if column not in frame.columns:
        raise SignatureEditError(f"'{column}' is not a column of the sample")
    try:
        return cast_column(frame[column], chosen)
    except (ValueError, TypeError, KeyError) as error:
        raise SignatureEditError(
            f"column '{column}': its sample values cannot be read as {chosen} ({error}); "
            "keep its inferred type or change the sample"
        ) from None


def conform_sample(frame: pd.DataFrame, column_types: dict[str, str]) -> pd.DataFrame:
    """The sample with its columns of edited type converted, so that the input example and the
    parity check follow the edited signature (MLflow refuses e.g. int64 values for a double)."""
    if not column_types:
        return frame
    converted = {
        column: converted_column(frame, column, chosen) for column, chosen in column_types.items()
    }
    return frame.assign(**converted)


def column_problems(frame: pd.DataFrame, column_types: dict[str, str]) -> dict[str, str]:
    """Each edited column type that the sample's values do not fit, with the message to show
    (each column converted on its own: a bulk edit of hundreds of columns stays quick)."""
    problems = {}
    for column, chosen in column_types.items():
        try:
            converted_column(frame, column, chosen)
        except SignatureEditError as error:
            problems[column] = str(error)
    return problems


def conform_to_signature(frame: pd.DataFrame, signature: ModelSignature) -> pd.DataFrame:
    """The sample with each column whose inferred type differs from the signature's converted to
    the signature's type (for logging a sample with an edited signature)."""

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inferred = {row.name: row.type for row in column_rows(infer_signature(frame).inputs)}
    wanted = {row.name: row.type for row in column_rows(signature.inputs)}
    return conform_sample(
        frame,
        {
            name: chosen
            for name, chosen in wanted.items()
            if name in inferred and inferred[name] != chosen
        },
    )
