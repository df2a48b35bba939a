"""``prepare_pipeline`` and ``PreparedPipeline``: the core object every face calls, against a
real project, session and sqlite store."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from projects import COUNTING_CHAIN_NODES, write_chain_project
from sessions import load_project

import kedro_mlflow_magic
from kedro_mlflow_magic import LoggedModel, PreparedPipeline, prepare_pipeline
from kedro_mlflow_magic.errors import ExperimentError, RegistrationError, SampleError
from kedro_mlflow_magic.runtime import MANIFEST_KEY, read_manifest
from kedro_mlflow_magic.verify.parity import Comparison


@pytest.fixture
def prepared(demo, demo_sample) -> PreparedPipeline:
    return prepare_pipeline(
        demo.pipelines["inference"], demo.catalog, "customers_to_score", demo_sample,
        project_path=demo.root,
    )  # fmt: skip


def test_prepared_pipeline_exposes_roles_sample_output_and_signature(prepared, demo_sample):
    assert prepared.roles.data_input == "customers_to_score"
    assert set(prepared.roles.artifacts) == {"encoder", "classifier"}
    assert prepared.sample is demo_sample
    assert prepared.output == "predictions"
    signature = prepared.signature()
    assert [spec.name for spec in signature.inputs.inputs] == list(demo_sample.columns)
    assert {spec.name for spec in signature.params.params} >= {"threshold"}


def test_log_returns_a_logged_model_with_parity_on_the_whole_sample(prepared, demo_sample):
    steps: list[str] = []
    logged = prepared.log(name="churn", example_rows=3, progress=steps.append)
    assert isinstance(logged, LoggedModel) and isinstance(logged.comparison, Comparison)
    assert logged.comparison.agree
    assert logged.comparison.detail == f"all {len(demo_sample)} rows agree"
    assert logged.run_id == logged.model_info.run_id
    assert logged.registered_version is None
    assert steps == ["inferring the signature", "logging", "verifying", "done"]
    run = mlflow.get_run(logged.run_id)
    assert run.data.tags["kedro_mlflow_magic.parity"] == logged.comparison.detail
    assert run.info.status == "FINISHED"
    # the manifest adds one run param, under its namespaced key, whatever its content
    assert set(run.data.params) == {MANIFEST_KEY}
    assert logged.model_info.model_uri in str(logged.model_info)
    assert repr(logged.model_info) == str(logged)


def test_the_model_config_holds_the_manifest_under_one_key(prepared):
    logged = prepared.log()
    model = mlflow.pyfunc.load_model(logged.model_info.model_uri)
    assert list(model.model_config) == [MANIFEST_KEY]
    manifest = read_manifest(model.model_config)
    assert manifest["data_input"] == "customers_to_score" and manifest["output"] == "predictions"
    assert read_manifest({"nodes": []}) is None


def test_log_into_a_named_experiment_creates_it_under_the_project(prepared, demo):
    logged = prepared.log(experiment="prepared-tests")
    experiment = mlflow.get_experiment(logged.experiment_id)
    assert experiment.name == "prepared-tests"
    assert experiment.artifact_location == (demo.root / "mlartifacts").resolve().as_uri()
    client = mlflow.MlflowClient()
    client.delete_experiment(experiment.experiment_id)
    with pytest.raises(ExperimentError, match="'prepared-tests' is deleted; restore it"):
        prepared.log(experiment="prepared-tests")


def test_log_into_a_given_run_and_with_a_run_name(prepared):
    with mlflow.start_run(run_name="training") as training:
        pass
    logged = prepared.log(run_id=training.info.run_id)
    assert logged.run_id == training.info.run_id and logged.run_reason == "the run asked for"
    named = prepared.log(run_name="scoring model")
    assert mlflow.get_run(named.run_id).info.run_name == "scoring model"
    assert mlflow.active_run() is None


def test_a_finished_run_left_on_the_stack_is_not_reused_and_stays_there(prepared):
    stale = mlflow.start_run()
    mlflow.MlflowClient().set_terminated(stale.info.run_id, "FINISHED")
    logged = prepared.log()
    assert logged.run_id != stale.info.run_id
    assert f"the active run {stale.info.run_id} had already ended" in logged.run_reason
    assert mlflow.active_run().info.run_id == stale.info.run_id  # the stack as we found it
    assert stale.info.run_id in str(logged)


def test_a_live_active_run_receives_the_model(prepared):
    with mlflow.start_run() as run:
        logged = prepared.log()
        assert mlflow.active_run().info.run_id == run.info.run_id
    assert logged.run_id == run.info.run_id and logged.run_reason == "the active run"


def test_wrong_options_fail_before_any_work(prepared):
    runs_before = len(mlflow.search_runs(search_all_experiments=True))
    with pytest.raises(RegistrationError, match="the alias 'a' needs a registered model"):
        prepared.log(alias="a")
    with pytest.raises(SampleError, match="example_rows must be at least 1"):
        prepared.log(example_rows=0)
    assert len(mlflow.search_runs(search_all_experiments=True)) == runs_before


def test_without_a_sample_the_persisted_data_input_is_loaded(make_project):
    from sessions import load_project

    root = make_project(
        nodes="def scale(frame, factor):\n    return frame * factor\n",
        pipelines='return {"p": pipeline([node(nodes.scale, ["rows", "params:factor"], "out")])}',
        catalog="rows:\n  type: pandas.CSVDataset\n  filepath: data/rows.csv\n",
        parameters="factor: 3\n",
        files={"data/rows.csv": "a,b\n1,2\n3,4\n"},
    )
    project = load_project(root)
    prepared = prepare_pipeline(project.pipelines["p"], project.catalog, "rows")
    assert prepared.sample.to_dict("list") == {"a": [1, 3], "b": [2, 4]}
    with pytest.raises(SampleError, match=r"the data input 'nope' cannot be loaded"):
        from kedro_mlflow_magic.prepared import default_sample

        default_sample(project.catalog, "nope")


def test_the_public_api_lists_and_completes_its_lazy_names():
    from importlib.metadata import version

    assert kedro_mlflow_magic.__version__ == version("kedro-mlflow-magic")
    names = dir(kedro_mlflow_magic)
    for name in ("prepare_pipeline", "LoggedModel", "Comparison", "errors", "__version__"):
        assert name in names and name in kedro_mlflow_magic.__all__
    assert kedro_mlflow_magic.errors.ParityError is kedro_mlflow_magic.ParityError
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        kedro_mlflow_magic.nope  # noqa: B018


def test_sample_output_is_reused_for_the_parity_check(prepared):
    first = prepared.sample_output
    assert prepared.expected_output(prepared.sample, prepared.leaves) is first
    other = prepared.sample.head(2)
    assert len(prepared.expected_output(other, prepared.leaves)) == 2
    assert isinstance(first, pd.DataFrame)


def test_a_log_runs_the_pipeline_once_in_the_session_and_once_through_the_reloaded_model(
    tmp_path,
):
    """The signature and the parity reference share one Kedro run on the sample; the serving
    contract's runs (columns taken away, rows alone) happen once; the reloaded model predicts
    the sample once (MLflow's own check of the serving example runs the model on the example
    rows, once)."""
    import importlib

    project = load_project(write_chain_project(tmp_path / "chain", COUNTING_CHAIN_NODES))
    chain = project.pipelines["chain_300"]
    sample = pd.DataFrame({"id": range(12), "value": [0.5] * 12})
    calls = importlib.import_module(f"{project.package}.nodes").CALLS
    prepared = prepare_pipeline(chain, project.catalog, "frame_in", sample)
    _ = prepared.sample_output
    assert calls == [12] * 300  # Kedro's runner once
    calls.clear()
    _ = prepared.contract.columns, prepared.contract.batch
    assert prepared.contract.columns.runs == 2  # each column taken away: both needed
    assert calls.count(1) == 3 * 300 and calls.count(4) == 2 * 300  # rows alone, small batches
    calls.clear()
    logged = prepared.log(example_rows=5)
    assert logged.comparison.agree
    assert calls.count(12) == 300  # the reloaded model once
    assert calls.count(5) == 300  # MLflow's check of the serving example
    assert len(calls) == 2 * 300
