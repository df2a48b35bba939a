"""Natural output schemas (issue 10): a pipeline whose output is a 1-D numpy array or a pandas
Series gives a model whose output is one column named after the output dataset, typed in the
signature, returned by ``predict``, served as ``{"predictions": [{"<output>": ...}]}``, and
checked for parity against Kedro's runner on the same conversion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import requests
from projects import write_text_project
from servers import clean_environment, model_server, running_server
from sessions import LoadedProject, kedro_output, load_project, train

from kedro_mlflow_magic import prepare_pipeline
from kedro_mlflow_magic.build.signature import output_column
from kedro_mlflow_magic.runtime import as_output_frame, model_config_of, read_manifest
from kedro_mlflow_magic.verify.parity import compare_with_session

# --- the conversion alone ------------------------------------------------------------------


def test_a_1d_array_becomes_one_named_column_sharing_its_memory() -> None:
    numbers = np.array([1.5, 2.5])
    frame = as_output_frame(numbers, "score")
    assert list(frame.columns) == ["score"] and frame["score"].dtype == np.float64
    assert np.shares_memory(frame["score"].to_numpy(), numbers)
    text = as_output_frame(np.array(["good", "bad"]), "label")
    assert text["label"].dtype == object and list(text["label"]) == ["good", "bad"]


def test_a_series_becomes_a_column_named_after_the_output_not_the_series() -> None:
    frame = as_output_frame(pd.Series([1, 2], name="proba", index=[7, 8]), "score")
    assert list(frame.columns) == ["score"]
    assert list(frame.index) == [7, 8] and list(frame["score"]) == [1, 2]


@pytest.mark.parametrize(
    "value",
    [pd.DataFrame({"a": [1]}), np.ones((2, 3)), {"a": 1}, 3.0, "text", [1, 2], np.float64(1)],
    ids=["frame", "2-D array", "dict", "float", "str", "list", "numpy scalar"],
)
def test_other_outputs_are_unchanged(value) -> None:
    assert as_output_frame(value, "out") is value


def test_no_column_leaves_even_an_array_unchanged() -> None:
    numbers = np.array([1, 2])
    assert as_output_frame(numbers, None) is numbers


@pytest.mark.parametrize(
    ("output", "column"),
    [
        (np.array(["a", "b"], dtype=object), "out"),
        (pd.Series([1.0, 2.0]), "out"),
        (np.array([True, False]), "out"),
        (np.array(["a", 1], dtype=object), None),  # MLflow cannot type a mix: kept as it is
        (np.ones((2, 2)), None),  # a 2-D array stays a tensor
        (pd.DataFrame({"a": [1]}), None),
    ],
    ids=["text", "float series", "bool", "mixed", "2-D", "frame"],
)
def test_which_outputs_become_a_column(output, column) -> None:
    assert output_column(output, "out") == column


# --- real models of a text-classifier-shaped project ------------------------------------------


@dataclass(frozen=True)
class TextModels:
    project: LoadedProject
    sample: pd.DataFrame
    model_uris: dict[str, str]  # pipeline name -> model URI
    tracking_uri: str


@pytest.fixture(scope="module")
def text_models(
    tmp_path_factory: pytest.TempPathFactory, mlflow_store: str
) -> Iterator[TextModels]:
    """The text classifier trained once, and its three pipelines logged once each."""
    import mlflow

    root = write_text_project(tmp_path_factory.mktemp("text") / "natural_output_text")
    train(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        project = load_project(root)
        sample = project.catalog.load("reviews").head(12)
        uris = {}
        for name in ("inference", "confidence", "word_counts"):
            prepared = prepare_pipeline(project.pipelines[name], project.catalog, "reviews", sample)
            uris[name] = prepared.log().model_info.model_uri
        yield TextModels(project, sample, uris, mlflow_store)
    mlflow.set_tracking_uri(None)


CASES = [
    ("inference", "sentiment", "string"),
    ("confidence", "confidence", "double"),
    ("word_counts", "word_count", "long"),
]


@pytest.mark.parametrize(("pipeline_name", "column", "kind"), CASES)
def test_the_logged_output_schema_is_one_named_typed_column(
    text_models: TextModels, pipeline_name: str, column: str, kind: str
) -> None:
    from mlflow.models import get_model_info

    info = get_model_info(text_models.model_uris[pipeline_name])
    outputs = info.signature.outputs
    assert outputs.input_names() == [column]
    assert [spec.type.name for spec in outputs.inputs] == [kind]


@pytest.mark.parametrize(("pipeline_name", "column", "kind"), CASES)
def test_predict_returns_that_column_with_the_runner_s_values(
    text_models: TextModels, pipeline_name: str, column: str, kind: str
) -> None:
    import mlflow

    model = mlflow.pyfunc.load_model(text_models.model_uris[pipeline_name])
    frame = text_models.project.catalog.load("reviews").tail(6)
    predicted = model.predict(frame)
    raw = kedro_output(text_models.project, pipeline_name, "reviews", frame)
    assert isinstance(predicted, pd.DataFrame) and list(predicted.columns) == [column]
    assert list(predicted[column]) == list(raw)
    assert read_manifest(model.model_config)["output_column"] == column
    if kind == "string":
        assert set(predicted[column]) == {"good", "bad"}


@pytest.mark.parametrize("pipeline_name", ["inference", "confidence"])
def test_parity_with_the_session_compares_like_with_like(
    text_models: TextModels, pipeline_name: str
) -> None:
    import mlflow

    model = mlflow.pyfunc.load_model(text_models.model_uris[pipeline_name])
    project = text_models.project
    comparison = compare_with_session(model, text_models.sample, project.pipelines, project.catalog)
    assert comparison, comparison.detail
    assert comparison.detail == f"all {len(text_models.sample)} rows agree"
    # a wrong value is still found, and shown under the column's name
    wrong = model.predict(text_models.sample)
    wrong.iloc[0, 0] = "neutral" if pipeline_name == "inference" else -1.0
    failed = compare_with_session(
        model, text_models.sample, project.pipelines, project.catalog, result=wrong
    )
    assert not failed and failed.detail == f"1 of {len(text_models.sample)} rows differ"
    assert ("model", wrong.columns[0]) in failed.differing_rows.columns


def test_an_older_manifest_without_the_field_returns_the_raw_output(
    text_models: TextModels,
) -> None:
    """A model logged before natural outputs (its manifest has no ``output_column``) still
    loads and returns the pipeline's raw output."""
    import mlflow

    uri = text_models.model_uris["inference"]
    manifest = dict(read_manifest(mlflow.pyfunc.load_model(uri).model_config))
    del manifest["output_column"]
    older = mlflow.pyfunc.load_model(uri, model_config=model_config_of(manifest))
    assert "output_column" not in read_manifest(older.model_config)
    result = older.predict(text_models.sample.head(3))
    assert isinstance(result, np.ndarray) and set(result) <= {"good", "bad"}


# --- served over HTTP --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served_labels(text_models: TextModels, tmp_path_factory: pytest.TempPathFactory):
    """``mlflow models serve`` on the text classifier's string-array model."""
    folder = tmp_path_factory.mktemp("serve-text")
    with running_server(
        model_server(text_models.model_uris["inference"]), "/ping", folder / "server.log",
        cwd=folder, env=clean_environment(text_models.tracking_uri),
    ) as server:  # fmt: skip
        yield server.url


@pytest.mark.slow
def test_served_json_has_one_record_per_row_keyed_by_the_output(
    served_labels: str, text_models: TextModels
) -> None:
    import mlflow

    frame = text_models.sample.head(4)
    body = json.dumps({"dataframe_records": frame.to_dict(orient="records")})
    response = requests.post(
        f"{served_labels}/invocations", data=body,
        headers={"Content-Type": "application/json"}, timeout=60,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    local = mlflow.pyfunc.load_model(text_models.model_uris["inference"]).predict(frame)
    expected = [{"sentiment": label} for label in local["sentiment"]]
    assert response.json() == {"predictions": expected}


# --- on Spark ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_spark_udf_gives_a_string_column_without_a_result_type(
    spark, text_models: TextModels
) -> None:
    """A tensor of objects was refused by ``spark_udf`` ("tensor spec type object is not
    supported"); the named string column is a Spark string column."""
    import mlflow
    from pyspark.sql.functions import struct
    from pyspark.sql.types import StringType

    uri = text_models.model_uris["inference"]
    predict = mlflow.pyfunc.spark_udf(spark, uri, env_manager="local")
    assert predict.returnType == StringType()
    frame = text_models.sample.head(6)
    scored = spark.createDataFrame(frame).withColumn("label", predict(struct("text")))
    labels = [row["label"] for row in scored.select("label").collect()]
    local = mlflow.pyfunc.load_model(uri).predict(frame)
    assert labels == list(local["sentiment"])
