"""Spark kinds (docs/explanation/behaviour.md#data-as-kedro-gives-it): a project built like Kedro's
PySpark starter (pandas nodes writing Spark datasets, a Spark join, transcoding) logged and served;
a Spark data input whose nodes use the Spark API, scored with ``predict(spark_df)`` (a Spark
DataFrame back) and with pandas; the one-line errors of ``spark_udf`` and of a missing Java or
pyspark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import requests
from kind_projects import spark_project, spark_trips, starter_project, starter_shuttles
from servers import clean_environment, model_server, running_server
from sessions import load_project

pytest.importorskip("pyspark", reason="the spark extra is not installed")

pytestmark = pytest.mark.slow

# the local session a served model starts (no active session there): small, on 127.0.0.1
SERVED_SPARK = {
    "spark.master": "local[1]",
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "2",
}


def expected_prices(project, shuttles: pd.DataFrame) -> pd.DataFrame:
    """The starter's prices computed by hand, from the same regressor and companies."""
    regressor = project.catalog.load("regressor")
    companies = project.catalog.load("companies")
    rating = companies.set_index("id")["rating"].str.rstrip("%").astype(float) / 100
    table = shuttles.assign(
        engines=shuttles["engines"].astype(float), rating=shuttles["company_id"].map(rating)
    ).sort_values("shuttle_id")
    price = regressor.predict(table[["engines", "passenger_capacity", "rating"]].to_numpy())
    return pd.DataFrame({"shuttle_id": table["shuttle_id"].to_numpy(), "price": price})


@pytest.fixture
def starter(make_project, spark):
    return load_project(starter_project(make_project))


def test_the_starter_shaped_pipeline_logs_and_serves(starter, spark, mlflow_store, tmp_path):
    import mlflow

    from kedro_mlflow_magic import prepare_pipeline
    from kedro_mlflow_magic.runtime import read_manifest

    shuttles = starter_shuttles()
    prepared = prepare_pipeline(starter.pipelines["__default__"], starter.catalog, None, shuttles)
    assert prepared.data_input == "shuttles" and prepared.through_files
    logged = prepared.log()
    assert logged.comparison.detail == "all 12 rows agree"
    model = mlflow.pyfunc.load_model(logged.model_info.model_uri)
    manifest = read_manifest(model.model_config)
    assert manifest["kinds"]["datasets"]["model_input_table@pandas"] == "pandas"
    assert manifest["kinds"]["values"]["preprocessed_shuttles"] == "pandas"
    result = model.predict(shuttles.head(5))
    pd.testing.assert_frame_equal(result, expected_prices(starter, shuttles.head(5)))
    # nothing was written into the project by the reference run
    assert not (starter.root / "data" / "02_intermediate").exists()
    requirements = (
        Path(mlflow.artifacts.download_artifacts(logged.model_info.model_uri)) / "requirements.txt"
    ).read_text()
    assert "pyspark==" in requirements

    environment = clean_environment(mlflow_store)
    environment.update(
        PYSPARK_PYTHON=sys.executable, KEDRO_MLFLOW_MAGIC_SPARK=json.dumps(SERVED_SPARK)
    )
    with running_server(
        model_server(logged.model_info.model_uri), "/ping", tmp_path / "server.log",
        cwd=tmp_path, env=environment,
    ) as server:  # fmt: skip
        request = {"dataframe_split": shuttles.head(4).to_dict(orient="split")}
        request["dataframe_split"].pop("index")
        answer = requests.post(f"{server.url}/invocations", json=request, timeout=120)
    assert answer.status_code == 200, answer.text
    served = pd.DataFrame(answer.json()["predictions"])
    pd.testing.assert_frame_equal(served, expected_prices(starter, shuttles.head(4)))


@pytest.fixture
def spark_trips_project(make_project, spark):
    return load_project(spark_project(make_project, spark))


def test_a_spark_data_input_runs_on_spark_and_returns_spark(
    spark_trips_project, spark, mlflow_store
):
    import mlflow
    from pyspark.sql import DataFrame

    from kedro_mlflow_magic import log_pipeline_model

    project = spark_trips_project
    sample = project.catalog.load("trips")
    info = log_pipeline_model(project.pipelines["__default__"], project.catalog, "trips", sample)
    types = {column["name"]: column["type"] for column in info.signature.inputs.to_dict()}
    assert types == {"trip_id": "long", "zone_id": "long", "distance": "double"}
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    assert list((local / "artifacts" / "zones" / "zones.parquet").glob("part-*.parquet"))

    model = mlflow.pyfunc.load_model(info.model_uri)
    trips = spark.createDataFrame(spark_trips())
    scored = model.predict(trips)
    assert isinstance(scored, DataFrame)  # lazy, on Spark: nothing collected
    rows = scored.orderBy("trip_id").toPandas()
    assert rows["fare"].tolist() == [2.5 * 1.5 * n for n in range(1, 9)]
    assert rows["zone"].tolist()[:3] == ["north", "centre", "south"]
    as_pandas = model.predict(spark_trips().head(3))
    assert isinstance(as_pandas, pd.DataFrame)
    assert sorted(as_pandas["trip_id"]) == [1, 2, 3]
    with_params = model.predict(trips, params={"rate": 1.0}).orderBy("trip_id").toPandas()
    assert with_params["fare"].tolist() == [1.5 * n for n in range(1, 9)]


def test_spark_udf_over_a_spark_model_says_to_predict_on_the_driver(
    spark_trips_project, spark, mlflow_store
):
    import mlflow
    from pyspark.sql.functions import struct

    from kedro_mlflow_magic import log_pipeline_model

    project = spark_trips_project
    info = log_pipeline_model(
        project.pipelines["__default__"], project.catalog, "trips", project.catalog.load("trips")
    )
    trips = spark.createDataFrame(spark_trips())
    predict = mlflow.pyfunc.spark_udf(spark, info.model_uri, env_manager="local")
    with pytest.raises(Exception, match=r"call model\.predict\(spark_df\)") as raised:
        trips.withColumn("prediction", predict(struct(*trips.columns))).collect()
    assert "cannot start inside a Spark executor" in str(raised.value)


LOAD = """
import sys
import mlflow
try:
    mlflow.pyfunc.load_model(sys.argv[1])
except Exception as error:
    print("ERROR", str(error).splitlines()[0])
"""

HIDE_PYSPARK = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pyspark":
            raise ImportError("No module named 'pyspark'")
sys.meta_path.insert(0, Hide())
"""


def test_a_spark_model_without_java_or_pyspark_says_which(
    spark_trips_project, spark, mlflow_store, tmp_path
):
    from kedro_mlflow_magic import log_pipeline_model

    project = spark_trips_project
    info = log_pipeline_model(
        project.pipelines["__default__"], project.catalog, "trips", project.catalog.load("trips")
    )
    environment = clean_environment(mlflow_store)
    environment.pop("JAVA_HOME", None)
    environment["PATH"] = str(Path(sys.executable).parent)  # no java on it
    no_java = subprocess.run(
        [sys.executable, "-c", LOAD, info.model_uri], cwd=tmp_path, env=environment,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "ERROR this model's nodes use Spark, and Spark needs Java" in no_java.stdout
    no_pyspark = subprocess.run(
        [sys.executable, "-c", HIDE_PYSPARK + LOAD, info.model_uri], cwd=tmp_path,
        env={**clean_environment(mlflow_store), "PATH": os.environ["PATH"]},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "ERROR this model's nodes use Spark, and pyspark is not installed" in no_pyspark.stdout


def test_kedro_predict_takes_a_spark_dataframe_quietly(
    project_notebook, spark_trips_project, spark, mlflow_store, monkeypatch, capsys
):
    from pyspark.sql import DataFrame

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    trips = spark.createDataFrame(spark_trips())
    shell = project_notebook(spark_trips_project, trips=trips)
    info = shell.run_line_magic("kedro_log_model", "__default__ --input trips")
    capsys.readouterr()
    result = shell.run_line_magic("kedro_predict", f"{info.model_uri} --data trips --compare")
    assert isinstance(result, DataFrame)
    assert result.count() == 8
    shown = capsys.readouterr()
    assert "Input data is a Spark DataFrame" not in shown.out + shown.err
    assert "all 8 rows agree" in shown.out


def test_a_column_spark_cannot_take_is_named(spark_trips_project, spark, mlflow_store):
    import mlflow

    from kedro_mlflow_magic import log_pipeline_model

    project = spark_trips_project
    info = log_pipeline_model(
        project.pipelines["__default__"], project.catalog, "trips", project.catalog.load("trips")
    )
    model = mlflow.pyfunc.load_model(info.model_uri).unwrap_python_model()
    frame = spark_trips().head(2).astype({"zone_id": object})
    frame["zone_id"] = [1j, 2j]  # complex numbers: no Spark type holds them
    with pytest.raises(mlflow.exceptions.MlflowException, match=r"^the column 'zone_id' cannot"):
        model.predict(None, frame)


def test_the_shell_command_logs_a_spark_pipeline(spark_trips_project, mlflow_store, tmp_path):
    command = Path(sys.executable).parent / "kedro-mlflow-magic"
    environment = {
        **clean_environment(mlflow_store), "KEDRO_DISABLE_TELEMETRY": "true",
        "PYSPARK_PYTHON": sys.executable, "KEDRO_MLFLOW_MAGIC_SPARK": json.dumps(SERVED_SPARK),
    }  # fmt: skip
    logged = subprocess.run(
        [str(command), "log", "__default__", "--input", "trips", "--sample", "trips"],
        cwd=spark_trips_project.root, env=environment, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert logged.returncode == 0, logged.stderr
    assert "all 8 rows agree" in logged.stdout
    model_uri = next(
        line.split()[-1] for line in logged.stdout.splitlines() if line.startswith("model URI")
    )
    spark_trips().to_csv(tmp_path / "trips.csv", index=False)
    predicted = subprocess.run(
        [str(command), "predict", model_uri, "--data", str(tmp_path / "trips.csv")],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.splitlines()[0] == "trip_id,zone,fare"
    assert len(predicted.stdout.splitlines()) == 9
