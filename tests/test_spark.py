"""Spark: a Spark DataFrame is a valid sample at log time, and the logged model scores Spark
DataFrames through ``mlflow.pyfunc.spark_udf`` exactly as it scores pandas frames."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from projects import DEMO_OVERRIDES

pytest.importorskip("pyspark", reason="the spark extra is not installed")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class SparkLoggedDemo:
    """The demo inference model logged with a Spark DataFrame as its sample."""

    model_uri: str
    signature: object
    frame: pd.DataFrame
    spark_frame: object


@pytest.fixture(scope="module")
def spark_logged(spark, trained_demo: Path, mlflow_store: str) -> Iterator[SparkLoggedDemo]:
    import mlflow
    from sessions import load_project

    from kedro_mlflow_magic import log_pipeline_model

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        project = load_project(trained_demo)
        frame = project.catalog.load("customers").drop(columns=["churned"]).head(60)
        spark_frame = spark.createDataFrame(frame).repartition(2)
        info = log_pipeline_model(
            project.pipelines["inference"], project.catalog, "customers_to_score", spark_frame
        )
        yield SparkLoggedDemo(info.model_uri, info.signature, frame, spark_frame)
    mlflow.set_tracking_uri(None)


def score_with_spark(spark, logged: SparkLoggedDemo, params: dict | None) -> pd.DataFrame:
    import mlflow
    from pyspark.sql.functions import struct

    predict = mlflow.pyfunc.spark_udf(spark, logged.model_uri, env_manager="local", params=params)
    columns = logged.spark_frame.columns
    scored = logged.spark_frame.withColumn("prediction", predict(struct(*columns)))
    return by_customer(scored.select("prediction.*").toPandas())


def by_customer(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("customer_id").reset_index(drop=True)


def test_a_spark_dataframe_is_a_sample(spark_logged: SparkLoggedDemo):
    inputs = spark_logged.signature.inputs.to_dict()
    assert [column["name"] for column in inputs] == list(spark_logged.frame.columns)
    types = {column["name"]: column["type"] for column in inputs}
    assert types == {
        "customer_id": "long",
        "tenure_months": "long",
        "monthly_charges": "double",
        "support_calls": "long",
        "plan": "string",
    }
    outputs = [column["name"] for column in spark_logged.signature.outputs.to_dict()]
    assert outputs == ["customer_id", "churn_probability", "label"]


@pytest.mark.parametrize("params", [None, DEMO_OVERRIDES], ids=["defaults", "overrides"])
def test_spark_udf_scores_like_the_pandas_path(
    spark, spark_logged: SparkLoggedDemo, params: dict | None
):
    import mlflow

    expected = mlflow.pyfunc.load_model(spark_logged.model_uri).predict(
        spark_logged.frame, params=params
    )
    scored = score_with_spark(spark, spark_logged, params)
    assert len(scored) == len(spark_logged.frame)
    pd.testing.assert_frame_equal(scored, by_customer(expected), check_dtype=False)
    if params:
        assert set(scored["label"]) == {"leaving", "stay"}
