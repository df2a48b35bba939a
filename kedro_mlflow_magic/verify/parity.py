"""Whether two pipeline results agree, and where they first differ."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline

from kedro_mlflow_magic.errors import NotOurModelError, SessionMismatchError
from kedro_mlflow_magic.inspect.kinds import as_kind, converts
from kedro_mlflow_magic.inspect.roles import inspect_pipeline
from kedro_mlflow_magic.runtime import Manifest, Parameters, as_output_frame, read_manifest
from kedro_mlflow_magic.runtime.conversions import to_pandas
from kedro_mlflow_magic.verify.reference_run import run_in_session

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel

RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Comparison:
    agree: bool
    detail: str
    differing_rows: pd.DataFrame | None = None

    def __bool__(self) -> bool:
        return self.agree


def comparable_frame(value: Any) -> pd.DataFrame | None:
    """A result as a frame to compare cell by cell (a frame, Series or 1-D/2-D array); None for
    any other value, which is compared as a whole."""
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame()
    if isinstance(value, np.ndarray) and value.ndim in (1, 2):
        return pd.DataFrame(value)
    return None


def compare_results(
    model_result: Any,
    pipeline_result: Any,
    rows_shown: int = 5,
    labels: tuple[str, str] = ("model", "pipeline"),
) -> Comparison:
    """Compare the model's prediction with the pipeline's output (numbers with a tiny
    tolerance); ``labels`` name the two sides in the detail and the differing rows (two models
    compared are ``before`` and ``after``)."""
    model, pipeline = labels
    arrays = isinstance(model_result, np.ndarray) and isinstance(pipeline_result, np.ndarray)
    if arrays and max(model_result.ndim, pipeline_result.ndim) > 2:
        return compare_arrays(model_result, pipeline_result, labels)
    model_frame, pipeline_frame = comparable_frame(model_result), comparable_frame(pipeline_result)
    if model_frame is None or pipeline_frame is None:
        try:
            same = bool(np.all(model_result == pipeline_result))
        except Exception:
            same = False
        detail = (
            "equal"
            if same
            else f"{model} gave {model_result!r}, {pipeline} gave {pipeline_result!r}"
        )
        return Comparison(same, detail)
    if model_frame.shape != pipeline_frame.shape:
        return Comparison(
            False, f"shapes differ: {model} {model_frame.shape}, {pipeline} {pipeline_frame.shape}"
        )
    if isinstance(model_result, pd.DataFrame) and isinstance(pipeline_result, pd.DataFrame):
        model_columns, pipeline_columns = list(model_frame.columns), list(pipeline_frame.columns)
        if model_columns != pipeline_columns:
            return Comparison(
                False, f"columns differ: {model} {model_columns}, {pipeline} {pipeline_columns}"
            )
    model_frame = model_frame.reset_index(drop=True)
    pipeline_frame = pipeline_frame.reset_index(drop=True)
    model_frame.columns = pipeline_frame.columns = range(pipeline_frame.shape[1])
    differs = differing_rows(model_frame, pipeline_frame)
    count = int(differs.sum())
    if count == 0:
        return Comparison(True, f"all {len(pipeline_frame)} rows agree")
    detail = f"{count} of {len(pipeline_frame)} rows differ"
    if same_rows_in_another_order(model_frame, pipeline_frame):
        detail += (
            ", but they are the same rows in another order: a Spark join or shuffle gives its "
            "rows no order; sort the output in its node (e.g. .orderBy(...) or .sort_values(...))"
        )
    rows = pd.concat(
        {
            model: comparable_frame(model_result).iloc[differs.to_numpy()].head(rows_shown),
            pipeline: comparable_frame(pipeline_result).iloc[differs.to_numpy()].head(rows_shown),
        },
        axis=1,
    )
    return Comparison(False, detail, rows)


def differing_rows(model_frame: pd.DataFrame, pipeline_frame: pd.DataFrame) -> pd.Series:
    """Which rows differ between two frames of the same shape, indexed and columned alike
    (numbers with a tiny tolerance, missing values equal)."""
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
    return differs


def same_rows_in_another_order(model_frame: pd.DataFrame, pipeline_frame: pd.DataFrame) -> bool:
    """Whether two frames of the same shape, indexed and columned alike, hold the same rows,
    each as often, in another order. False where the values cannot be sorted."""
    columns = list(pipeline_frame.columns)
    try:
        model_sorted = model_frame.sort_values(columns, kind="stable").reset_index(drop=True)
        pipeline_sorted = pipeline_frame.sort_values(columns, kind="stable").reset_index(drop=True)
    except TypeError:  # values of mixed types
        return False
    return not differing_rows(model_sorted, pipeline_sorted).any()


def compare_arrays(
    model_result: np.ndarray,
    pipeline_result: np.ndarray,
    labels: tuple[str, str] = ("model", "pipeline"),
) -> Comparison:
    """Two arrays of any rank: same shape, and the same values (numbers with a tiny
    tolerance), row by row along the first axis."""
    if model_result.shape != pipeline_result.shape:
        model, pipeline = labels
        return Comparison(
            False,
            f"shapes differ: {model} {model_result.shape}, {pipeline} {pipeline_result.shape}",
        )
    rows = len(pipeline_result)
    model_rows, pipeline_rows = model_result.reshape(rows, -1), pipeline_result.reshape(rows, -1)
    if model_rows.dtype.kind in "biufc" and pipeline_rows.dtype.kind in "biufc":
        close = np.isclose(
            model_rows, pipeline_rows, rtol=RELATIVE_TOLERANCE, atol=0.0, equal_nan=True
        )
    else:
        close = model_rows == pipeline_rows
    count = int((~close.all(axis=1)).sum())
    if count == 0:
        return Comparison(True, f"all {rows} rows agree")
    return Comparison(False, f"{count} of {rows} rows differ")


def manifest_pipeline(manifest: Manifest, pipelines: Mapping[str, Pipeline]) -> Pipeline:
    """The session's pipeline made of the nodes a model runs (found by name in its manifest)."""
    nodes = {node.name: node for pipeline in pipelines.values() for node in pipeline.nodes}
    wanted = [entry["name"] for entry in manifest["nodes"]]
    missing = [name for name in wanted if name not in nodes]
    if missing:
        raise SessionMismatchError(missing)
    return Pipeline([nodes[name] for name in wanted])


def compare_with_session(
    model: PyFuncModel,
    frame: pd.DataFrame,
    pipelines: Mapping[str, Pipeline],
    catalog: DataCatalog,
    params: dict[str, Any] | None = None,
    result: Any = None,
) -> Comparison:
    """Check a logged model against the Kedro session: run the nodes its manifest lists with
    Kedro's SequentialRunner on ``frame`` and the same parameters, and compare with the model's
    prediction (``result``, or predicted here). The runner's output is converted as the model
    converts it (a 1-D output as a named column), so that like is compared with like."""
    manifest = read_manifest(model.model_config)
    if manifest is None:
        raise NotOurModelError(f"the model {model.metadata.model_id or model.metadata.run_id}")
    pipeline = manifest_pipeline(manifest, pipelines)
    frozen = tuple(entry["dataset"] for entry in manifest["artifacts"] if entry["frozen"])
    roles = inspect_pipeline(pipeline, catalog, manifest["data_input"], freeze=frozen)
    values = Parameters.of(manifest).values(params)
    kinds = manifest.get("kinds")  # older manifests: all as produced
    data_kind = kinds["data_input"] if kinds else None
    through_files = bool(kinds) and converts(kinds["datasets"], data_kind, pipeline)
    expected = run_in_session(
        pipeline, catalog, roles, as_kind(to_pandas(frame), data_kind), values,
        manifest["output"], through_files=through_files,
    )  # fmt: skip
    expected = as_output_frame(expected, manifest.get("output_column"))  # older: no key
    if result is None:
        result = model.predict(frame, params=params or None)
    # a Spark or polars prediction (the model given a Spark frame) is compared as pandas
    return compare_results(to_pandas(result), expected)
