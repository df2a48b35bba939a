"""``LogModelHook`` in a real ``kedro run`` (a subprocess) of the demo project, with the hook in
its settings.py: each training run logs the inference pipeline, registers a new version and
moves the alias; a failure to log fails the run in one line; other pipelines log nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sessions import tool_environment

BIN = Path(sys.executable).parent

SETTINGS = '''
import os

import mlflow
from kedro.framework.hooks import hook_impl

from kedro_mlflow_magic.hooks import LogModelHook


class TrainingRun:
    """Stands in for kedro-mlflow's hook: registered after ours (as entry-point plugins are),
    it opens a run before the pipeline and ends it in its own after_pipeline_run."""

    @hook_impl
    def before_pipeline_run(self):
        if os.environ.get("OPEN_TRAINING_RUN"):
            mlflow.start_run(run_name="training run", tags={{"opened_by": "stand-in"}})

    @hook_impl
    def after_pipeline_run(self):
        if os.environ.get("OPEN_TRAINING_RUN"):
            mlflow.end_run()


HOOKS = (
    LogModelHook(after="training", pipeline="inference", data_input={data_input!r},
                 sample="customers", registered_model_name="churn", alias="challenger"),
    TrainingRun(),
)
'''

EXTRA_PIPELINE = (
    '    return {"training": training, "inference": inference, "__default__": training,\n'
    '            "data": training.only_nodes("generate_customers")}\n'
)


def hooked_project(folder: Path, data_input: str = "customers_to_score") -> Path:
    from kedro_mlflow_magic.demo import create_demo_project

    root = create_demo_project(folder / "project", "churn_hooked")
    settings = root / "src" / "churn_hooked" / "settings.py"
    settings.write_text(SETTINGS.format(data_input=data_input))
    registry = root / "src" / "churn_hooked" / "pipeline_registry.py"
    text = registry.read_text()
    start = text.index("    return {")
    registry.write_text(text[:start] + EXTRA_PIPELINE)
    return root


def kedro_run(root: Path, store: str, *arguments: str, **environment: str):
    env = tool_environment(store, **environment)
    return subprocess.run(
        [str(BIN / "kedro"), "run", *arguments],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def trained_and_registered(
    root: Path, store: str, registered: str, destination: Path, **environment: str
) -> tuple[str, str, Path]:
    """``kedro run --pipelines training`` (which must succeed), then version 1 of the model
    the hook registered as ``registered``: the run's output, the version's source and its files
    downloaded into ``destination``. MLflow is left pointed at ``store``."""
    import mlflow

    finished = kedro_run(root, store, "--pipelines", "training", **environment)
    assert finished.returncode == 0, finished.stderr[-3000:] + finished.stdout[-3000:]
    mlflow.set_tracking_uri(store)
    source = mlflow.MlflowClient().get_model_version(registered, "1").source
    folder = Path(mlflow.artifacts.download_artifacts(source, dst_path=str(destination)))
    return finished.stdout + finished.stderr, source, folder


@pytest.mark.slow
def test_each_training_run_registers_a_new_version_and_moves_the_alias(tmp_path: Path) -> None:
    import mlflow

    root = hooked_project(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=store)

    first = kedro_run(root, store, "--pipelines", "training")
    assert first.returncode == 0, first.stderr[-3000:] + first.stdout[-3000:]
    output = first.stdout + first.stderr
    assert "Logged pipeline 'inference' after the run of 'training'" in output
    version = client.get_model_version_by_alias("churn", "challenger")
    assert int(version.version) == 1
    # the logs name the run and the model URI; with no run open, the model got a new run
    assert version.run_id in output and "(a new run)" in output
    assert version.source.startswith("models:/") and version.source in output

    # a second run (with a run opened by a hook that ends it in its own after_pipeline_run,
    # as kedro-mlflow does): a new version, the alias moves, the model lands in that run
    # ... in the environment prod, whose conf/prod/mlflow_magic.yml names the model otherwise
    (root / "conf" / "prod").mkdir()
    (root / "conf" / "prod" / "mlflow_magic.yml").write_text("log_model:\n  name: prod_model\n")
    second = kedro_run(
        root, store, "--pipelines", "training", "--env", "prod", OPEN_TRAINING_RUN="1"
    )
    assert second.returncode == 0, second.stderr[-3000:] + second.stdout[-3000:]
    moved = client.get_model_version_by_alias("churn", "challenger")
    assert int(moved.version) == 2
    training_run = client.get_run(moved.run_id)
    assert training_run.data.tags.get("opened_by") == "stand-in"
    assert training_run.info.status == "FINISHED"
    assert "(the active run)" in second.stdout + second.stderr
    assert client.get_logged_model(moved.source.removeprefix("models:/")).name == "prod_model"
    assert client.get_logged_model(version.source.removeprefix("models:/")).name == "model"


@pytest.mark.slow
def test_other_pipelines_and_partial_runs_log_nothing(tmp_path: Path) -> None:
    import mlflow

    root = hooked_project(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"

    other = kedro_run(root, store, "--pipelines", "data")
    assert other.returncode == 0, other.stderr[-3000:]
    partial = kedro_run(root, store, "--pipelines", "training", "--nodes", "generate_customers")
    assert partial.returncode == 0, partial.stderr[-3000:]
    assert "this run of 'training' skipped its nodes fit_encoder, train_classifier" in (
        partial.stdout + partial.stderr
    )
    client = mlflow.MlflowClient(tracking_uri=store)
    assert client.search_registered_models() == []
    assert all(
        not client.search_logged_models([e.experiment_id]) for e in client.search_experiments()
    )
    assert "Logged pipeline" not in other.stdout + other.stderr + partial.stdout + partial.stderr


@pytest.mark.slow
def test_a_failure_to_log_fails_the_run_with_one_line_and_logs_nothing(tmp_path: Path) -> None:
    import mlflow

    root = hooked_project(tmp_path, data_input="customer_to_score")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"

    failed = kedro_run(root, store, "--pipelines", "training")
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    line = (
        "LogAfterRunError: could not log pipeline 'inference' after the run of 'training': "
        "'customer_to_score' is not a free input of the pipeline; choose the data input among: "
        "classifier, customers_to_score, encoder, params:scoring, params:threshold"
    )
    assert line in " ".join(output.split()), output[-3000:]
    client = mlflow.MlflowClient(tracking_uri=store)
    assert client.search_registered_models() == []
    assert all(
        not client.search_logged_models([e.experiment_id]) for e in client.search_experiments()
    )


JITTERY_NODES = """\
import numpy as np
import pandas as pd


def make_frame():
    return pd.DataFrame({"x": [1.0, 2.0, 3.0]})


def jitter(frame):
    return frame.assign(y=np.random.default_rng().random(len(frame)))
"""

JITTERY_PIPELINES = """\
training = pipeline([node(nodes.make_frame, None, "frame", name="make_frame")])
scoring = pipeline([node(nodes.jitter, "frame", "jittered", name="jitter")])
return {"training": training, "scoring": scoring, "__default__": training}
"""

JITTERY_SETTINGS = """\
from kedro_mlflow_magic.hooks import LogModelHook

HOOKS = (LogModelHook(after="training", pipeline="scoring", data_input="frame"),)
"""


def jittery_project(folder: Path) -> Path:
    """A project whose scoring pipeline is nondeterministic: its parity check always fails."""
    from projects import write_project

    return write_project(
        folder / "jittery", JITTERY_NODES, JITTERY_PIPELINES, package="jittery",
        catalog="frame:\n  type: pandas.CSVDataset\n  filepath: data/frame.csv\n",
        files={"src/jittery/settings.py": JITTERY_SETTINGS},
    )  # fmt: skip


@pytest.mark.slow
def test_a_parity_failure_fails_the_run_with_one_line_and_leaves_no_ready_model(
    tmp_path: Path,
) -> None:
    import mlflow
    from mlflow.entities import LoggedModelStatus

    root = jittery_project(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"

    failed = kedro_run(root, store, "--pipelines", "training")
    assert failed.returncode != 0
    output = " ".join((failed.stdout + failed.stderr).split())
    line = (
        "LogAfterRunError: could not log pipeline 'scoring' after the run of 'training': "
        "the reloaded model disagrees with the pipeline on the sample"
    )
    assert line in output, output[-3000:]
    # Kedro's CLI frames any failed run in its traceback; ours adds no chained one
    assert "ParityError" not in output and "During handling" not in output
    client = mlflow.MlflowClient(tracking_uri=store)
    models = [
        model
        for experiment in client.search_experiments()
        for model in client.search_logged_models([experiment.experiment_id])
    ]
    assert models, "the log got as far as creating its model"
    assert all(model.status == LoggedModelStatus.FAILED for model in models)
    assert all(client.get_run(model.source_run_id).info.status == "FAILED" for model in models)


REQUIREMENT_SETTINGS = """
from kedro_mlflow_magic.hooks import LogModelHook

HOOKS = (
    LogModelHook(after="training", pipeline="inference", data_input="customers_to_score",
                 sample="customers", registered_model_name="churn_required",
                 extra_requirements=["sortedcontainers", "scipy>=1.0"]),
)
"""


@pytest.mark.slow
def test_the_hook_logs_the_requirements_added_by_hand(tmp_path: Path) -> None:
    from importlib.metadata import version

    from model_files import manifest_of

    root = hooked_project(tmp_path)
    (root / "src" / "churn_hooked" / "settings.py").write_text(REQUIREMENT_SETTINGS)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _, _, folder = trained_and_registered(root, store, "churn_required", tmp_path / "model")
    lines = (folder / "requirements.txt").read_text().split()
    pinned = f"sortedcontainers=={version('sortedcontainers')}"
    assert pinned in lines and "scipy>=1.0" in lines, lines
    assert manifest_of(folder)["added_requirements"] == [pinned, "scipy>=1.0"]


# --- the hook logs pipelines whose data are not pandas (Spark, numpy) -------------------------

SPARK_HOOK_NODES = """\
import pandas as pd
from pyspark.sql import functions as F


def build_zones(zone_names: pd.DataFrame) -> pd.DataFrame:
    # a pandas node whose output is a spark.SparkDatasetV2: Kedro's save converts it
    return zone_names.assign(zone=zone_names["zone"].str.lower())


def add_fare(trips, rate: float):
    return trips.withColumn("fare", F.col("distance") * F.lit(rate))


def name_zones(trips, zones):
    return trips.join(zones, on="zone_id", how="left").select("trip_id", "zone", "fare")
"""

SPARK_HOOK_PIPELINES = """\
training = pipeline([node(nodes.build_zones, "zone_names", "zones", name="build_zones")])
scoring = pipeline([
    node(nodes.add_fare, ["trips", "params:rate"], "priced", name="add_fare"),
    node(nodes.name_zones, ["priced", "zones"], "fares", name="name_zones"),
])
return {"training": training, "scoring": scoring, "__default__": training}
"""

# the session as Kedro's PySpark integration docs make it: a hook, from conf/base/spark.yml
SPARK_HOOK_SETTINGS = """\
from kedro.framework.hooks import hook_impl
from pyspark import SparkConf
from pyspark.sql import SparkSession

from kedro_mlflow_magic.hooks import LogModelHook


class SparkHooks:
    @hook_impl
    def after_context_created(self, context):
        settings = SparkConf().setAll(context.config_loader["spark"].items())
        session = SparkSession.builder.appName("fares").config(conf=settings).getOrCreate()
        session.sparkContext.setLogLevel("ERROR")


HOOKS = (
    SparkHooks(),
    LogModelHook(after="training", pipeline="scoring", data_input="trips", sample="trips",
                 registered_model_name="fares"),
)
CONFIG_LOADER_ARGS = {"config_patterns": {"spark": ["spark*", "spark*/**"]}}
"""

SPARK_YML = """\
spark.master: local[1]
spark.ui.enabled: "false"
spark.driver.host: 127.0.0.1
spark.driver.bindAddress: 127.0.0.1
spark.driver.memory: 512m
spark.sql.shuffle.partitions: "2"
"""


@pytest.mark.slow
def test_the_hook_logs_a_spark_pipeline_whose_artifact_the_run_wrote(tmp_path: Path, spark):
    import mlflow
    import pandas as pd
    from kind_projects import SPARK, spark_trips
    from model_files import manifest_of
    from projects import catalog_yaml, write_project
    from pyspark.sql import DataFrame

    catalog = catalog_yaml(
        {
            "zone_names": ("pandas.CSVDataset", "data/01_raw/zone_names.csv"),
            "zones": (SPARK, "data/02_intermediate/zones.parquet"),
            "trips": (SPARK, "data/01_raw/trips.parquet"),
        }
    )
    root = write_project(
        tmp_path / "fares", SPARK_HOOK_NODES, SPARK_HOOK_PIPELINES, catalog=catalog,
        parameters="rate: 2.5\n", package="fares",
        files={
            "src/fares/settings.py": SPARK_HOOK_SETTINGS,
            "conf/base/spark.yml": SPARK_YML,
            "data/01_raw/zone_names.csv": "zone_id,zone\n0,North\n1,Centre\n2,South\n",
        },
    )  # fmt: skip
    spark_trips().to_parquet(root / "data" / "01_raw" / "trips.parquet", index=False)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"

    output, source, folder = trained_and_registered(
        root, store, "fares", tmp_path / "model", PYSPARK_PYTHON=sys.executable
    )
    assert "Logged pipeline 'scoring' after the run of 'training'" in output
    # the artifact the training run wrote through Spark ships as its parquet folder
    assert list((folder / "artifacts" / "zones" / "zones.parquet").glob("part-*.parquet"))
    kinds = manifest_of(folder)["kinds"]
    assert kinds["data_input"] == "spark" and kinds["datasets"]["zones"] == "spark"
    requirements = (folder / "requirements.txt").read_text().split()
    assert any(line.startswith("pyspark==") for line in requirements), requirements

    model = mlflow.pyfunc.load_model(source)
    scored = model.predict(spark.createDataFrame(spark_trips()))
    assert isinstance(scored, DataFrame)
    rows = scored.orderBy("trip_id").toPandas()
    assert rows["fare"].tolist() == [2.5 * 1.5 * n for n in range(1, 9)]
    assert rows["zone"].tolist()[:3] == ["north", "centre", "south"]
    answered = model.predict(spark_trips().head(2))
    assert isinstance(answered, pd.DataFrame)
    assert sorted(answered["zone"]) == ["centre", "north"]


ARRAY_HOOK_NODES = """\
import numpy as np


def fit_background(calibration: np.ndarray) -> np.ndarray:
    return calibration.mean(axis=0)


def brightness(images: np.ndarray, background: np.ndarray) -> np.ndarray:
    # array indexing and broadcasting: the nodes get the batch as the array it is
    return (images - background[None, :, :]).mean(axis=(1, 2))
"""

ARRAY_HOOK_PIPELINES = """\
training = pipeline([
    node(nodes.fit_background, "calibration_images", "background", name="fit_background"),
])
scoring = pipeline([
    node(nodes.brightness, ["images", "background"], "brightness", name="brightness"),
])
return {"training": training, "scoring": scoring, "__default__": training}
"""

ARRAY_HOOK_SETTINGS = """\
from kedro_mlflow_magic.hooks import LogModelHook

HOOKS = (
    LogModelHook(after="training", pipeline="scoring", data_input="images",
                 sample="calibration_images", registered_model_name="brightness"),
)
"""


@pytest.mark.slow
def test_the_hook_logs_a_numpy_pipeline_with_a_tensor_signature(tmp_path: Path) -> None:
    import mlflow
    import numpy as np
    from kind_projects import images
    from projects import catalog_yaml, write_project

    calibration = images(6)
    root = write_project(
        tmp_path / "brightness", ARRAY_HOOK_NODES, ARRAY_HOOK_PIPELINES, package="brightness",
        catalog=catalog_yaml({
            "calibration_images": ("pickle.PickleDataset", "data/01_raw/calibration.pickle"),
            "background": ("pickle.PickleDataset", "data/06_models/background.pickle"),
        }),
        pickles={"data/01_raw/calibration.pickle": calibration},
        files={"src/brightness/settings.py": ARRAY_HOOK_SETTINGS},
    )  # fmt: skip
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"

    output, source, folder = trained_and_registered(root, store, "brightness", tmp_path / "model")
    assert "Logged pipeline 'scoring' after the run of 'training'" in output
    model = mlflow.pyfunc.load_model(source)
    inputs = model.metadata.get_input_schema()
    assert inputs.is_tensor_spec()
    assert inputs.inputs[0].shape == (-1, 4, 5) and inputs.inputs[0].type == np.dtype("float64")
    example = mlflow.models.Model.load(str(folder)).load_input_example(str(folder))
    assert np.array_equal(example, calibration[:5])

    unseen = images(3) * 2.0
    expected = (unseen - calibration.mean(axis=0)[None, :, :]).mean(axis=(1, 2))
    predicted = model.predict(unseen)
    assert np.allclose(np.asarray(predicted).ravel(), expected)
