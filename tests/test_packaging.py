"""log_pipeline_model (docs/explanation/behaviour.md#the-logged-model): what the model carries,
registration with an alias, and a parity failure that fails the run and registers nothing."""

from __future__ import annotations

import json
import uuid

import pandas as pd
import pytest
from model_files import assert_model_is_clean
from sessions import LoadedProject, load_project

from kedro_mlflow_magic import ParityError, log_pipeline_model, prepare_pipeline
from kedro_mlflow_magic.runtime import read_manifest
from kedro_mlflow_magic.verify.parity import compare_results

STEPS = [
    "collecting artifacts", "inferring the signature", "logging", "verifying", "registering", "done",
]  # fmt: skip


def test_a_registered_model_loads_by_alias_and_carries_a_readable_manifest(
    demo: LoadedProject, demo_sample: pd.DataFrame
) -> None:
    import mlflow
    import yaml

    name = f"churn-{uuid.uuid4().hex[:8]}"
    steps: list[str] = []
    info = log_pipeline_model(
        demo.pipelines["inference"],
        demo.catalog,
        "customers_to_score",
        demo_sample,
        example_rows=3,
        registered_model_name=name,
        alias="champion",
        progress=steps.append,
    )
    assert steps == STEPS
    assert info.registered_model_version == 1
    by_alias = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    pd.testing.assert_frame_equal(
        by_alias.predict(demo_sample), mlflow.pyfunc.load_model(info.model_uri).predict(demo_sample)
    )
    run = mlflow.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["kedro_mlflow_magic.parity"] == f"all {len(demo_sample)} rows agree"

    folder = assert_model_is_clean(
        info.model_uri, allowed_pickles={"encoder.pkl", "classifier.pkl"}
    )
    assert len(json.loads((folder / "input_example.json").read_text())["data"]) == 3
    assert (folder / "serving_input_example.json").is_file()
    assert (folder / "code" / demo.package / "nodes.py").is_file()
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    manifest = read_manifest(mlmodel["flavors"]["python_function"]["config"])
    assert manifest["data_input"] == "customers_to_score"
    assert manifest["output"] == "predictions"
    nodes = {node["name"]: node for node in manifest["nodes"]}
    assert nodes["score_customers"]["function"] == f"{demo.package}.nodes:score_customers"
    assert nodes["encode_features"]["inputs"] == ["customers_to_score", "encoder"]
    assert nodes["encode_features"]["outputs"] == "features"
    artifacts = {artifact["dataset"]: artifact for artifact in manifest["artifacts"]}
    assert set(artifacts) == {"encoder", "classifier"}
    assert artifacts["classifier"]["type"].endswith("PickleDataset")
    assert (folder / "artifacts" / artifacts["classifier"]["artifact"] / "classifier.pkl").is_file()
    defaults = {parameter["name"]: parameter["default"] for parameter in manifest["parameters"]}
    assert defaults == {
        "threshold": 0.5,
        "scoring.decimals": 3,
        "scoring.labels.positive": "churn",
        "scoring.labels.negative": "stay",
    }
    assert set(manifest["versions"]) >= {"python", "kedro", "mlflow"}
    assert [spec.name for spec in info.signature.outputs.inputs] == [
        "customer_id",
        "churn_probability",
        "label",
    ]


NODES = """\
import numpy as np


def jitter(frame):
    return frame.assign(noise=np.random.default_rng().random(len(frame)))
"""


def test_a_parity_failure_fails_the_run_and_registers_nothing(make_project) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    project = load_project(
        make_project(
            nodes=NODES, pipelines='return {"flow": pipeline([node(nodes.jitter, "frame", "out")])}'
        )
    )
    name = f"jitter-{uuid.uuid4().hex[:8]}"
    steps: list[str] = []
    with pytest.raises(ParityError, match=r"disagrees with the pipeline.*rows differ"):
        log_pipeline_model(
            project.pipelines["flow"],
            project.catalog,
            "frame",
            pd.DataFrame({"value": [1.0, 2.0, 3.0]}),
            registered_model_name=name,
            alias="champion",
            progress=steps.append,
        )
    assert steps == STEPS[:4]  # stopped at "verifying"
    assert mlflow.active_run() is None
    experiment = mlflow.get_experiment_by_name(project.package)
    (run,) = mlflow.search_runs([experiment.experiment_id], output_format="list")
    assert run.info.status == "FAILED"
    with pytest.raises(MlflowException, match=r"not found|does not exist|RESOURCE_DOES_NOT_EXIST"):
        mlflow.MlflowClient().get_registered_model(name)
    assert mlflow.search_model_versions(filter_string=f"name='{name}'") == []


def test_parity_compares_column_names_and_values() -> None:
    pipeline = pd.DataFrame({"id": [1, 2], "score": [0.5, 0.25]})
    assert compare_results(pipeline.copy(), pipeline).detail == "all 2 rows agree"
    renamed = compare_results(pipeline.rename(columns={"score": "scores"}), pipeline)
    assert not renamed and "columns differ" in renamed.detail and "'scores'" in renamed.detail
    changed = compare_results(pipeline.assign(score=[0.5, 0.3]), pipeline)
    assert not changed and changed.detail == "1 of 2 rows differ"
    assert changed.differing_rows["model"]["score"].tolist() == [0.3]


def test_an_edited_column_type_is_applied_to_the_sample_before_logging(
    demo: LoadedProject, demo_sample: pd.DataFrame
) -> None:
    """A column edited from long to double in the signature: the integer sample is converted,
    so MLflow's check of the input example passes and the model takes doubles."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    pipeline = demo.pipelines["inference"]
    inferred = prepare_pipeline(
        pipeline, demo.catalog, "customers_to_score", demo_sample
    ).signature()
    columns = [
        ColSpec("double", spec.name) if spec.name == "support_calls" else spec
        for spec in inferred.inputs.inputs
    ]
    edited = ModelSignature(Schema(columns), inferred.outputs, inferred.params)
    assert demo_sample["support_calls"].dtype.kind == "i"

    info = log_pipeline_model(
        pipeline, demo.catalog, "customers_to_score", demo_sample, signature=edited
    )
    logged = mlflow.models.get_model_info(info.model_uri).signature
    assert logged.inputs.input_dict()["support_calls"].type.name == "double"
    model = mlflow.pyfunc.load_model(info.model_uri)
    as_doubles = demo_sample.head(3).astype({"support_calls": "float64"})
    assert list(model.predict(as_doubles)["customer_id"]) == list(as_doubles["customer_id"])
