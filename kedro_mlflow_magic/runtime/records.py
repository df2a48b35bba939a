"""A parameter as the model's input (a kedro-mlflow ``PipelineML`` whose ``input_name`` is a
parameter, or ``--input params:...``): the caller gives one row a call, a column per field of
the parameter (dotted for nested fields: ``size.height``), and the nodes get the value as Kedro
gives a parameter: a dict of the fields (``record``), or the one value of a parameter that is
not a dict (``scalar``). Python values, as parameters load from YAML (numpy's scalars
converted)."""

from __future__ import annotations

from typing import Any

import pandas as pd

RECORD = "record"
SCALAR = "scalar"
PARAMETER_KINDS = (RECORD, SCALAR)


def one_row(frame: Any) -> dict[str, Any]:
    """The fields of a one-row frame, as Python values; one row a call, else a clear error."""
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(frame)
    if len(frame) != 1:
        # imported here: the core reads this module's names without importing MLflow
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        raise MlflowException(
            f"this model's input is a parameter: one row a call (its fields as columns), not "
            f"{len(frame)} rows",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return frame.to_dict(orient="records")[0]


def record_of(frame: Any) -> dict[str, Any]:
    """The dict a one-row frame stands for, dotted columns nested (``size.height``)."""
    record: dict[str, Any] = {}
    for column, value in one_row(frame).items():
        *parents, last = str(column).split(".")
        branch = record
        for part in parents:
            branch = branch.setdefault(part, {})
        branch[last] = value
    return record


def scalar_of(frame: Any) -> Any:
    """The value a one-row, one-column frame stands for."""
    (value,) = one_row(frame).values()
    return value


def parameter_converter(kind: str) -> Any:
    """The conversion of the caller's frame into the value the nodes get."""
    return record_of if kind == RECORD else scalar_of


def parameter_frame(value: Any, column: str) -> pd.DataFrame:
    """The one-row frame that stands for a parameter's value: a column per field of a dict
    (nested fields dotted), or one column named ``column`` for any other value."""
    if not isinstance(value, dict):
        return pd.DataFrame({column: [value]})
    fields: dict[str, Any] = {}

    def flatten(prefix: str, branch: dict[str, Any]) -> None:
        for key, item in branch.items():
            name = f"{prefix}{key}"
            if isinstance(item, dict) and item:
                flatten(f"{name}.", item)
            else:
                fields[name] = item

    flatten("", value)
    return pd.DataFrame({name: [item] for name, item in fields.items()})
