"""A parameter as the data input (docs/guides/notebook.md#a-parameter-as-the-models-input): a
kedro-mlflow ``PipelineML`` whose ``input_name`` is a parameter, or ``--input params:NAME``.
The model takes one row a call, a column per field of the parameter, and its nodes get the
value as Kedro gives the parameter (``runtime/records``); the sample, unless one is given, is
the parameter's value in the session as that row."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.io import DataCatalog
from kedro.io.core import is_parameter

from kedro_mlflow_magic.errors import SampleError
from kedro_mlflow_magic.quiet import load_quietly
from kedro_mlflow_magic.runtime.records import RECORD, SCALAR, parameter_frame

__all__ = ["is_parameter", "parameter_input"]


def column_name(name: str) -> str:
    """The column a parameter that is not a dict becomes: its last key (``params:a.rate``:
    ``rate``)."""
    return name.removeprefix("params:").rsplit(".", 1)[-1]


def parameter_input(catalog: DataCatalog, name: str, sample: Any) -> tuple[pd.DataFrame, str]:
    """The sample and the kind (``record``: a dict of fields; ``scalar``: one value) of the
    parameter ``name`` as the data input: the sample given, else the parameter's value in the
    session as a one-row frame. One row only: the model takes one parameter value a call."""
    value = load_quietly(catalog, name) if name in catalog else None
    if sample is None:
        if name not in catalog:
            raise SampleError(
                f"no sample given and the parameter '{name}', the data input, is not set in the "
                "project; set it in conf/base/parameters.yml or pass a one-row sample of its "
                "fields (--sample EXPR, sample=...)"
            )
        sample = parameter_frame(value, column_name(name))
    if not isinstance(sample, pd.DataFrame) or len(sample) != 1:
        rows = f"{len(sample)} rows" if isinstance(sample, pd.DataFrame) else type(sample).__name__
        raise SampleError(
            f"the data input '{name}' is a parameter: the model takes one row a call, a column "
            f"per field; give a one-row pandas DataFrame as the sample, not {rows}"
        )
    if value is not None:
        kind = RECORD if isinstance(value, dict) else SCALAR
    else:
        kind = SCALAR if list(sample.columns) == [column_name(name)] else RECORD
    return sample, kind
