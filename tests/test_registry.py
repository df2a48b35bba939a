"""Registering logged pipelines: ``models:/<name>@<alias>`` loads, and logging again makes the
next version, the alias moving with it."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from kedro_mlflow_magic import log_pipeline_model
from kedro_mlflow_magic.errors import RegistrationError


@pytest.fixture
def model_name() -> str:
    """A registered model name of its own: the sqlite store is shared by the whole session."""
    return f"churn-{uuid.uuid4().hex[:8]}"


def log_registered(demo, sample: pd.DataFrame, model_name: str, alias: str | None):
    return log_pipeline_model(
        demo.pipelines["inference"],
        demo.catalog,
        "customers_to_score",
        sample,
        registered_model_name=model_name,
        alias=alias,
    )


def test_alias_loads_and_moves_to_the_next_version(demo, demo_sample, model_name: str):
    import mlflow

    client = mlflow.MlflowClient()
    first = log_registered(demo, demo_sample, model_name, "champion")
    assert first.registered_model_version == 1
    assert int(client.get_model_version_by_alias(model_name, "champion").version) == 1

    by_alias = mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
    assert by_alias.metadata.model_uuid == first.model_uuid
    expected = mlflow.pyfunc.load_model(first.model_uri).predict(demo_sample)
    pd.testing.assert_frame_equal(by_alias.predict(demo_sample), expected)

    second = log_registered(demo, demo_sample.head(10), model_name, "champion")
    assert second.registered_model_version == 2
    assert int(client.get_model_version_by_alias(model_name, "champion").version) == 2
    assert mlflow.pyfunc.load_model(f"models:/{model_name}@champion").metadata.model_uuid == (
        second.model_uuid
    )
    assert mlflow.pyfunc.load_model(f"models:/{model_name}/1").metadata.model_uuid == (
        first.model_uuid
    )


def test_registering_without_an_alias_makes_a_version_without_aliases(
    demo, demo_sample, model_name: str
):
    import mlflow

    info = log_registered(demo, demo_sample, model_name, None)
    version = mlflow.MlflowClient().get_model_version(model_name, "1")
    assert info.registered_model_version == 1
    assert version.run_id == info.run_id
    assert version.aliases == []


def test_an_alias_without_a_registered_name_names_the_fix(demo, demo_sample):
    with pytest.raises(
        RegistrationError, match=r"'champion' needs a registered model.*registered_model_name"
    ):
        log_pipeline_model(
            demo.pipelines["inference"],
            demo.catalog,
            "customers_to_score",
            demo_sample,
            alias="champion",
        )


def signature_with_threshold(demo, sample: pd.DataFrame, threshold: float):
    """The inferred signature with the default of ``threshold`` edited (as the editor does)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    from kedro_mlflow_magic import prepare_pipeline

    inferred = prepare_pipeline(
        demo.pipelines["inference"], demo.catalog, "customers_to_score", sample
    ).signature()
    params = [
        ParamSpec(spec.name, spec.dtype, threshold, spec.shape)
        if spec.name == "threshold"
        else spec
        for spec in inferred.params
    ]
    return ModelSignature(inferred.inputs, inferred.outputs, ParamSchema(params))


@pytest.mark.slow
def test_kedro_predict_follows_the_alias_when_it_moves(
    ipython_shell, trained_demo, demo, demo_sample, model_name: str
):
    shell = ipython_shell
    shell.run_line_magic("load_ext", "kedro_mlflow_magic")
    shell.run_line_magic("reload_kedro", str(trained_demo))
    shell.user_ns["customers"] = demo_sample
    line = f"models:/{model_name}@champion --data customers"

    log_registered(demo, demo_sample, model_name, "champion")
    first = shell.run_line_magic("kedro_predict", line)
    assert set(first["label"]) == {"churn", "stay"}

    log_pipeline_model(
        demo.pipelines["inference"], demo.catalog, "customers_to_score", demo_sample,
        signature=signature_with_threshold(demo, demo_sample, 0.0),
        registered_model_name=model_name, alias="champion",
    )  # fmt: skip
    second = shell.run_line_magic("kedro_predict", line)
    assert set(second["label"]) == {"churn"}, "the alias now points at version 2 (threshold 0)"
    pd.testing.assert_series_equal(second["churn_probability"], first["churn_probability"])
