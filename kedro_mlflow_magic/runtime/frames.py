"""Frames at the model's edges: what the model returns for the pipeline's output."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def as_output_frame(value: Any, column: str | None) -> Any:
    """A 1-D numpy array or a pandas Series as a one-column DataFrame named ``column``, so that
    the model's output schema is a named, typed column (served JSON gives
    ``{"predictions": [{column: ...}, ...]}``, ``spark_udf`` a column of that type) instead of a
    tensor; anything else (frames, 2-D arrays, dicts, scalars), or any value when ``column`` is
    None, as it is.

    Cheap: the frame shares the array's memory, and text stays ``object`` (no scan of every
    value to infer pandas' string dtype). The core infers the signature and checks parity on
    this same conversion.
    """
    if column is None:
        return value
    if isinstance(value, pd.Series):
        return value.to_frame(column)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        as_objects = value.dtype.kind in "OUS"  # text (and other objects) as Python objects
        return pd.DataFrame({column: value}, dtype=object if as_objects else None, copy=False)
    return value
