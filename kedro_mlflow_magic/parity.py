"""Whether two pipeline results agree, and where they first differ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Comparison:
    agree: bool
    detail: str
    differing_rows: pd.DataFrame | None = None

    def __bool__(self) -> bool:
        return self.agree


def as_frame(value: Any) -> pd.DataFrame | None:
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame()
    if isinstance(value, np.ndarray) and value.ndim in (1, 2):
        return pd.DataFrame(value)
    return None


def compare_results(model_result: Any, pipeline_result: Any, rows_shown: int = 5) -> Comparison:
    """Compare the model's prediction with the pipeline's output (numbers with a tiny tolerance)."""
    model_frame, pipeline_frame = as_frame(model_result), as_frame(pipeline_result)
    if model_frame is None or pipeline_frame is None:
        try:
            same = bool(np.all(model_result == pipeline_result))
        except Exception:
            same = False
        detail = (
            "equal" if same else f"model gave {model_result!r}, pipeline gave {pipeline_result!r}"
        )
        return Comparison(same, detail)
    if model_frame.shape != pipeline_frame.shape:
        return Comparison(
            False, f"shapes differ: model {model_frame.shape}, pipeline {pipeline_frame.shape}"
        )
    if isinstance(model_result, pd.DataFrame) and isinstance(pipeline_result, pd.DataFrame):
        model_columns, pipeline_columns = list(model_frame.columns), list(pipeline_frame.columns)
        if model_columns != pipeline_columns:
            return Comparison(
                False, f"columns differ: model {model_columns}, pipeline {pipeline_columns}"
            )
    model_frame = model_frame.reset_index(drop=True)
    pipeline_frame = pipeline_frame.reset_index(drop=True)
    model_frame.columns = pipeline_frame.columns = range(pipeline_frame.shape[1])
    differs = pd.Series(False, index=pipeline_frame.index)
    for column in pipeline_frame.columns:
        left, right = model_frame[column], pipeline_frame[column]
        if pd.api.types.is_numeric_dtype(left) and pd.api.types.is_numeric_dtype(right):
            close = np.isclose(
                left.to_numpy(dtype=float),
                right.to_numpy(dtype=float),
                rtol=RELATIVE_TOLERANCE,
                atol=0.0,
                equal_nan=True,
            )
        else:
            close = (left.astype(object) == right.astype(object)) | (left.isna() & right.isna())
        differs |= ~pd.Series(close, index=pipeline_frame.index)
    count = int(differs.sum())
    if count == 0:
        return Comparison(True, f"all {len(pipeline_frame)} rows agree")
    rows = pd.concat(
        {
            "model": as_frame(model_result).iloc[differs.to_numpy()].head(rows_shown),
            "pipeline": as_frame(pipeline_result).iloc[differs.to_numpy()].head(rows_shown),
        },
        axis=1,
    )
    return Comparison(False, f"{count} of {len(pipeline_frame)} rows differ", rows)
