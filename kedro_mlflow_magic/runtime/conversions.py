"""Conversions between kinds of frames, in memory, as Kedro's catalog makes them through files
(a pandas frame saved to a Spark dataset, a table written by Spark and read back as pandas):
pandas <-> Spark, pandas <-> polars, Spark <-> polars. And the model's Spark session.

Spark and polars are imported only here, and only when a model that needs them loads.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from .kinds import PANDAS, POLARS, POLARS_LAZY, SPARK, kind_of

# JSON of Spark settings ({"spark.master": "local[4]", "spark.driver.memory": "2g"}) for the
# session a model starts when there is no active one
SPARK_SETTINGS_VARIABLE = "KEDRO_MLFLOW_MAGIC_SPARK"
DEFAULT_MASTER = "local[*]"
SPARK_UDF_MESSAGE = (
    "this model's nodes need Spark, which cannot start inside a Spark executor "
    "(mlflow.pyfunc.spark_udf): load the model on the driver and call model.predict(spark_df)"
)

Converter = Callable[[Any], Any]


def in_spark_executor() -> bool:
    """Whether this process runs a Spark task (a Python worker of ``spark_udf``)."""
    try:
        from pyspark import TaskContext
    except ImportError:
        return False
    return TaskContext.get() is not None


def spark_session() -> Any:
    """The active Spark session, else a new local one (its master and settings from
    ``KEDRO_MLFLOW_MAGIC_SPARK``); a one-line error where pyspark or Java is missing, or
    inside an executor."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise MlflowException(
            "this model's nodes use Spark, and pyspark is not installed here: "
            "pip install pyspark (the version in the model's requirements.txt)"
        ) from error
    if in_spark_executor():
        raise MlflowException(SPARK_UDF_MESSAGE)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise MlflowException(
            "this model's nodes use Spark, and Spark needs Java, which is not installed here "
            "(no JAVA_HOME, no java on PATH): install Java 17"
        )
    text = os.environ.get(SPARK_SETTINGS_VARIABLE) or "{}"
    try:
        settings = dict(json.loads(text))
    except (ValueError, TypeError) as error:
        raise MlflowException(
            f"{SPARK_SETTINGS_VARIABLE} is not a JSON object of Spark settings: {text!r}"
        ) from error
    builder = SparkSession.builder.master(str(settings.pop("spark.master", DEFAULT_MASTER)))
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def failing_column(frame: pd.DataFrame, convert: Converter) -> str | None:
    """The first column of ``frame`` that ``convert`` cannot take on its own (only looked for
    once a whole conversion failed)."""
    for column in frame.columns:
        try:
            convert(frame[[column]])
        except Exception:
            return str(column)
    return None


def named_failure(frame: pd.DataFrame, convert: Converter, target: str) -> Converter:
    def converted(value: pd.DataFrame) -> Any:
        try:
            return convert(value)
        except Exception as error:
            column = failing_column(value, convert)
            where = f"the column '{column}'" if column is not None else "the frame"
            raise MlflowException(
                f"{where} cannot become a {target} column: {type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}".rstrip(": "),
                error_code=INVALID_PARAMETER_VALUE,
            ) from error

    return converted


def to_pandas(value: Any) -> Any:
    kind = kind_of(value)
    if kind == SPARK:
        return value.toPandas()
    if kind == POLARS:
        return value.to_pandas()
    if kind == POLARS_LAZY:
        return value.collect().to_pandas()
    return value


def spark_from_pandas(session: Any) -> Converter:
    def create(frame: pd.DataFrame) -> Any:
        return session.createDataFrame(frame)

    return lambda frame: named_failure(frame, create, "Spark")(frame)


def polars_from_pandas(frame: pd.DataFrame) -> Any:
    import polars

    return named_failure(frame, polars.from_pandas, "polars")(frame)


def converter(kind: str, session: Any = None) -> Converter:
    """The function converting any frame to ``kind`` (a frame already of that kind is kept);
    ``session``: the Spark session a conversion to Spark creates its frames in."""
    if kind == PANDAS:
        return to_pandas
    if kind == SPARK:
        from_pandas = spark_from_pandas(session)

        def to_spark(value: Any) -> Any:
            source = kind_of(value)
            if source == SPARK:
                return value
            if source in (POLARS, POLARS_LAZY):
                value = to_pandas(value)
            return from_pandas(value)

        return to_spark

    def to_polars(value: Any) -> Any:
        source = kind_of(value)
        if source == POLARS:
            return value
        if source == POLARS_LAZY:
            return value.collect()
        if source == SPARK:
            import polars

            return polars.from_arrow(value.toArrow())
        return polars_from_pandas(value)

    if kind == POLARS:
        return to_polars

    def to_polars_lazy(value: Any) -> Any:
        if kind_of(value) == POLARS_LAZY:
            return value
        return to_polars(value).lazy()

    if kind == POLARS_LAZY:
        return to_polars_lazy
    raise MlflowException(f"no conversion to the kind {kind!r}")
