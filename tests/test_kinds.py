"""Kinds of data (docs/explanation/behaviour.md#data-as-kedro-gives-it) without Spark: each
dataset's kind from its catalog type, where the runtime converts (and where not), numpy data inputs
of any rank, polars pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from kind_projects import array_project, images, polars_project, spark_trips
from servers import clean_environment, model_server, running_server
from sessions import load_project

from kedro_mlflow_magic import log_pipeline_model, prepare_pipeline
from kedro_mlflow_magic.errors import SampleError
from kedro_mlflow_magic.inspect.kinds import catalog_kind, data_input_kind
from kedro_mlflow_magic.runtime import read_manifest
from kedro_mlflow_magic.runtime.kinds import (
    PANDAS,
    POLARS,
    POLARS_LAZY,
    SPARK,
    converted_name,
    plan_conversions,
)


@pytest.mark.parametrize(
    ("dataset_type", "kind"),
    [
        ("kedro_datasets.spark.spark_dataset_v2.SparkDatasetV2", SPARK),
        ("spark.SparkDataset", SPARK),
        ("spark.SparkHiveDataset", SPARK),
        ("spark.DeltaTableDataset", SPARK),
        ("kedro_datasets.pandas.csv_dataset.CSVDataset", PANDAS),
        ("polars.EagerPolarsDataset", POLARS),
        ("kedro_datasets.polars.lazy_polars_dataset.LazyPolarsDataset", POLARS_LAZY),
        ("pickle.PickleDataset", None),
        ("kedro.io.memory_dataset.MemoryDataset", None),
        (None, None),
    ],
)
def test_a_dataset_kind_follows_its_catalog_type(dataset_type, kind):
    assert catalog_kind(dataset_type) == kind


def node(name, inputs, outputs):
    return {"name": name, "function": "m:f", "inputs": inputs, "outputs": outputs}


def test_kinds_that_agree_plan_no_conversion():
    nodes = [node("a", "raw", "clean"), node("b", ["clean", "model"], "scores")]
    kinds = {
        "datasets": {"clean": PANDAS, "raw": PANDAS},
        "values": {"clean": PANDAS, "scores": PANDAS},
        "data_input": PANDAS,
    }
    plan = plan_conversions(nodes, kinds, "raw", "scores")
    assert plan.nodes == nodes and plan.at_start == () and plan.after == {}
    assert plan.output_kind is None


def test_a_pandas_value_saved_to_a_spark_dataset_is_converted_once_for_its_readers():
    nodes = [
        node("prep", "raw", "table"),
        node("join", ["table", "other"], "joined@spark"),
        node("count", {"frame": "table"}, "counts"),
        node("predict", "joined@pandas", "scores"),
    ]
    kinds = {
        "datasets": {"table": SPARK, "joined@spark": SPARK, "joined@pandas": PANDAS},
        "values": {"table": PANDAS, "joined": SPARK, "scores": PANDAS, "counts": SPARK},
        "data_input": PANDAS,
    }
    plan = plan_conversions(nodes, kinds, "raw", "scores")
    as_spark, as_pandas = converted_name("table", SPARK), converted_name("joined", PANDAS)
    assert plan.nodes[1]["inputs"] == [as_spark, "other"]
    assert plan.nodes[2]["inputs"] == {"frame": as_spark}  # one conversion, two readers
    assert plan.nodes[3]["inputs"] == as_pandas
    assert [(item.key, item.kind) for item in plan.after[0]] == [("table", SPARK)]
    assert [(item.key, item.kind) for item in plan.after[1]] == [("joined", PANDAS)]
    assert plan.at_start == ()


def test_manifests_without_kinds_convert_nothing():
    nodes = [node("a", "raw@spark", "out")]
    plan = plan_conversions(nodes, None, "raw", "out")
    assert plan.nodes == nodes and plan.after == {} and plan.output_kind is None


def test_the_data_input_kind_comes_from_the_catalog_else_from_the_sample(demo):
    assert data_input_kind(demo.catalog, "customers_to_score", np.zeros((2, 2))) == "numpy"
    assert data_input_kind(demo.catalog, "customers_to_score", pd.DataFrame()) == PANDAS
    assert data_input_kind(demo.catalog, "customers", np.zeros((2, 2))) == PANDAS  # a CSV


def test_an_unknown_sample_type_is_named_with_the_kinds_taken(demo):
    with pytest.raises(SampleError, match=r"'customers_to_score' is a set; give a pandas, Spark"):
        prepare_pipeline(demo.pipelines["inference"], demo.catalog, "customers_to_score", {1})


@pytest.fixture
def arrays(make_project):
    return load_project(array_project(make_project))


def test_a_2d_array_reaches_its_node_as_an_array(arrays, mlflow_store):
    table = np.arange(12.0).reshape(4, 3)
    info = log_pipeline_model(arrays.pipelines["table"], arrays.catalog, "table", table)
    inputs = info.signature.inputs.to_dict()
    assert inputs == [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": (-1, 3)}}]
    model = mlflow.pyfunc.load_model(info.model_uri)
    result = model.predict(table)
    assert result["scaled"].tolist() == [0.0, 9.0, 18.0, 27.0]
    manifest = read_manifest(model.model_config)
    assert manifest["kinds"]["data_input"] == "numpy"


def test_a_3d_array_model_takes_a_batch_of_images(arrays, mlflow_store):
    batch = images()
    info = log_pipeline_model(
        arrays.pipelines["flipped"], arrays.catalog, "images", batch, example_rows=2
    )
    assert info.signature.inputs.to_dict()[0]["tensor-spec"]["shape"] == (-1, 4, 5)
    model = mlflow.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(model.predict(batch), batch[:, ::-1, :])
    example = mlflow.models.Model.load(info.model_uri).load_input_example(
        mlflow.artifacts.download_artifacts(info.model_uri)
    )
    np.testing.assert_array_equal(example, batch[:2])  # the input example: the first rows


@pytest.mark.slow
def test_a_numpy_model_serves_a_tensor_request(arrays, mlflow_store, tmp_path: Path):
    batch = images()
    info = log_pipeline_model(arrays.pipelines["images"], arrays.catalog, "images", batch)
    local = mlflow.artifacts.download_artifacts(info.model_uri)
    serving = json.loads((Path(local) / "serving_input_example.json").read_text())
    assert list(serving) == ["inputs"]  # a tensor request
    with running_server(
        model_server(info.model_uri), "/ping", tmp_path / "server.log", cwd=tmp_path,
        env=clean_environment(mlflow_store),
    ) as server:  # fmt: skip
        answer = requests.post(
            f"{server.url}/invocations", json={"inputs": batch[:3].tolist()}, timeout=60
        )
    assert answer.status_code == 200, answer.text
    predictions = [row["brightness"] for row in answer.json()["predictions"]]
    np.testing.assert_allclose(predictions, batch[:3].mean(axis=(1, 2)))


@pytest.fixture
def polars_trips(make_project):
    pytest.importorskip("polars", reason="the polars extra is not installed")
    return load_project(polars_project(make_project))


def test_polars_nodes_get_polars_frames_and_a_pandas_caller_gets_pandas(polars_trips, mlflow_store):
    import polars as pl

    project = polars_trips
    sample = project.catalog.load("trips")
    assert isinstance(sample, pl.DataFrame)
    info = log_pipeline_model(project.pipelines["__default__"], project.catalog, "trips", sample)
    model = mlflow.pyfunc.load_model(info.model_uri)
    result = model.predict(spark_trips().head(3))
    assert isinstance(result, pd.DataFrame)
    assert result["fare"].tolist() == [3.75, 7.5, 11.25]
    assert result["expensive"].tolist() == [False, True, True]
    kinds = read_manifest(model.model_config)["kinds"]
    assert kinds["data_input"] == POLARS and kinds["values"]["fares"] == POLARS
    assert kinds["datasets"]["fares@pandas"] == PANDAS  # converted in memory for 'label'


def test_a_lazy_polars_output_reaches_a_pandas_caller_as_pandas(polars_trips, mlflow_store):
    project = polars_trips
    info = log_pipeline_model(
        project.pipelines["lazy"], project.catalog, "lazy_trips", project.catalog.load("trips")
    )
    result = mlflow.pyfunc.load_model(info.model_uri).predict(spark_trips().head(2))
    assert isinstance(result, pd.DataFrame)
    assert result.to_dict("list") == {"trip_id": [1, 2], "double": [3.0, 6.0]}


def test_a_column_polars_cannot_take_is_named(polars_trips, mlflow_store):
    project = polars_trips
    info = log_pipeline_model(
        project.pipelines["__default__"], project.catalog, "trips", project.catalog.load("trips")
    )
    model = mlflow.pyfunc.load_model(info.model_uri)
    frame = spark_trips().head(2)
    bad = frame.astype({"zone_id": object})
    bad["zone_id"] = [1, "two"]
    with pytest.raises(mlflow.exceptions.MlflowException, match=r"'zone_id'"):
        model.unwrap_python_model().predict(None, bad)


def test_the_magics_log_and_predict_an_array(project_notebook, arrays, mlflow_store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    shell = project_notebook(arrays, table=np.arange(12.0).reshape(4, 3))
    info = shell.run_line_magic("kedro_log_model", "table --input table --sample table")
    result = shell.run_line_magic("kedro_predict", f"{info.model_uri} --data table[:2] --compare")
    assert result["scaled"].tolist() == [0.0, 9.0]


def test_the_roles_show_each_inputs_kind(project_notebook, polars_trips):
    shell = project_notebook(polars_trips)
    roles = shell.run_line_magic("kedro_inputs", "__default__ --input trips")
    assert "data input  the frame to predict on, a polars DataFrame" in str(roles)
    arrays_roles = prepare_pipeline(
        polars_trips.pipelines["lazy"], polars_trips.catalog, "lazy_trips"
    ).roles
    assert "a polars LazyFrame" in arrays_roles.summary_text()


def test_the_signature_editor_shows_a_tensor_input(arrays):
    from kedro_mlflow_magic.widgets.signature_editor import SignatureEditor

    prepared = prepare_pipeline(arrays.pipelines["flipped"], arrays.catalog, "images", images())
    editor = SignatureEditor(prepared)
    texts = " ".join(
        getattr(widget, "value", "") for widget in editor.children if hasattr(widget, "value")
    )
    assert "Input tensor (data input &#x27;images&#x27;)" in texts
    assert "float64, shape (-1, 4, 5)" in texts
    assert "tensor: float64, shape (-1, 4, 5)" in texts  # the output: flipped images
    assert editor.signature.inputs.is_tensor_spec()


@pytest.mark.slow
def test_the_shell_command_logs_and_predicts_an_array_pipeline(make_project, mlflow_store):
    import pickle
    import subprocess
    import sys

    root = array_project(make_project)
    (root / "table.pkl").write_bytes(pickle.dumps(np.arange(12.0).reshape(4, 3)))
    command = Path(sys.executable).parent / "kedro-mlflow-magic"
    environment = {**clean_environment(mlflow_store), "KEDRO_DISABLE_TELEMETRY": "true"}
    logged = subprocess.run(
        [str(command), "log", "table", "--input", "table", "--sample", "table.pkl"],
        cwd=root, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert logged.returncode == 0, logged.stderr
    assert "all 4 rows agree" in logged.stdout


def identity(value):
    return value


def test_only_intermediates_of_several_kinds_send_the_reference_through_files():
    from kedro.pipeline import node as kedro_node
    from kedro.pipeline import pipeline

    from kedro_mlflow_magic.inspect.kinds import converts

    transcoded = pipeline(
        [kedro_node(identity, "raw", "x@spark"), kedro_node(identity, "x@pandas", "out")]
    )
    assert converts({"x@spark": SPARK, "x@pandas": PANDAS}, PANDAS, transcoded)
    # a pandas pipeline, transcoded or not, runs in memory as before
    assert not converts({"x@spark": PANDAS, "x@pandas": PANDAS}, PANDAS, transcoded)
    # a Spark data input whose intermediates are Spark datasets converts nothing
    assert not converts({"x@spark": SPARK, "x@pandas": SPARK, "raw": PANDAS}, SPARK, transcoded)
