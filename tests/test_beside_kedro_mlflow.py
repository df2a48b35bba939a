"""Beside kedro-mlflow (docs/explanation/behaviour.md#beside-kedro-mlflow), without installing it:
its settings file, its relative sqlite URI, MLflow 3's file-store refusal and a
``PipelineML``-shaped pipeline. The same behaviours with kedro-mlflow's hooks active are in
test_kedro_mlflow.py (a venv of its own)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kedro.pipeline import Pipeline, node, pipeline
from sessions import load_project

from kedro_mlflow_magic import inspect_pipeline, prepare_pipeline
from kedro_mlflow_magic.display.log_summary import logged_text
from kedro_mlflow_magic.tracking.store import (
    file_store_refusal,
    new_artifact_location,
    resolve_tracking_uri,
    use_project_tracking,
)

NODES = """\
def shift(frame, offset):
    return frame + offset


def fit(frame):
    return float(frame["value"].mean())


def centre(frame, mean):
    return frame - mean
"""

PIPELINES = """\
flow = pipeline([node(nodes.shift, ["frame", "params:offset"], "shifted")])
return {"flow": flow, "__default__": flow}
"""

RELATIVE_YML = {"conf/local/mlflow.yml": "server:\n  mlflow_tracking_uri: sqlite:///mlruns.db\n"}


def test_kedro_mlflow_s_relative_uri_is_the_project_s_store(make_project, monkeypatch, tmp_path):
    """kedro-mlflow's hook hands MLflow ``sqlite:///mlruns.db`` as written: we take it as the
    project's choice (not the user's) and open it from the project root, wherever we run."""
    import mlflow

    root = make_project(NODES, PIPELINES, parameters="offset: 1\n", files=RELATIVE_YML)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri("sqlite:///mlruns.db")
    expected = f"sqlite:///{root.as_posix()}/mlruns.db"
    assert resolve_tracking_uri(root).uri == expected
    assert use_project_tracking(root) == expected
    assert mlflow.get_tracking_uri() == expected
    # a URI of the user's own stays theirs
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path.as_posix()}/mine.db")
    assert resolve_tracking_uri(root).uri == f"sqlite:///{tmp_path.as_posix()}/mine.db"


def test_the_hook_gives_kedro_mlflow_the_absolute_uri(make_project, monkeypatch, tmp_path):
    """Our ``kedro.hooks`` entry point runs in every session: the mlflow config that kedro-mlflow
    reads from the context's config loader holds the URI resolved from the project root."""
    root = make_project(NODES, PIPELINES, parameters="offset: 1\n", files=RELATIVE_YML)
    monkeypatch.chdir(tmp_path)
    project = load_project(root)
    settings = project.session.load_context().config_loader["mlflow"]
    assert settings["server"]["mlflow_tracking_uri"] == f"sqlite:///{root.as_posix()}/mlruns.db"


def test_new_experiments_follow_the_project_s_convention(make_project):
    plain = make_project(NODES, PIPELINES, parameters="offset: 1\n")
    assert new_artifact_location(plain, "exp") == (plain / "mlartifacts").as_uri()
    beside = make_project(NODES, PIPELINES, parameters="offset: 1\n", files=RELATIVE_YML)
    assert new_artifact_location(beside, "my exp") == (beside / "mlruns" / "my_exp").as_uri()
    configured = make_project(
        NODES,
        PIPELINES,
        parameters="offset: 1\n",
        files={
            "conf/local/mlflow.yml": "tracking:\n  experiment:\n    create_experiment_kwargs:\n"
            "      artifact_location: store/artifacts\n"
        },
    )
    assert new_artifact_location(configured, "exp") == (configured / "store/artifacts").as_uri()


def mlflow_refuses_the_file_store(folder: Path) -> bool:
    """MLflow 3 refuses its file store from a release on (3.11.1, our floor, still accepts it):
    the one-line explanation is only needed, and testable, where it refuses."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        mlflow.MlflowClient(tracking_uri=(folder / "probe-mlruns").as_uri()).search_experiments()
    except MlflowException as error:
        return "MLFLOW_ALLOW_FILE_STORE" in str(error)
    return False


# These tests reach MLflow's file store on purpose (its refusal is what they explain); MLflow at
# our floor (3.11) warns of its deprecation before it refuses.
FILE_STORE_ON_PURPOSE = pytest.mark.filterwarnings(
    "ignore:The filesystem tracking backend:FutureWarning"
)


@pytest.fixture
def refusing_mlflow(tmp_path: Path) -> None:
    if not mlflow_refuses_the_file_store(tmp_path):
        pytest.skip("this MLflow release still accepts its file store: nothing to explain")


@FILE_STORE_ON_PURPOSE
@pytest.mark.usefixtures("refusing_mlflow")
def test_mlflow_s_file_store_refusal_is_one_line_naming_the_file_and_the_fix(make_project):
    import mlflow
    from mlflow.exceptions import MlflowException

    root = make_project(NODES, PIPELINES, parameters="offset: 1\n", files=RELATIVE_YML)
    with pytest.raises(MlflowException) as refused:
        mlflow.MlflowClient(tracking_uri=(root / "mlruns").as_uri())
    wrapped = RuntimeError("hook failed")
    wrapped.__cause__ = refused.value
    line = file_store_refusal(wrapped, root)
    assert line is not None and "\n" not in line
    assert "conf/local/mlflow.yml" in line
    assert f"server.mlflow_tracking_uri: sqlite:///{root.as_posix()}/mlruns.db" in line
    assert "MLFLOW_ALLOW_FILE_STORE=true" in line
    assert file_store_refusal(ValueError("something else"), root) is None


REFUSING_HOOK = """\
import mlflow
from kedro.framework.hooks import hook_impl


class OpensTheFileStore:
    @hook_impl
    def after_context_created(self, context):
        mlflow.MlflowClient(tracking_uri=(context.project_path / "mlruns").as_uri())


HOOKS = (OpensTheFileStore(),)
"""


@FILE_STORE_ON_PURPOSE
@pytest.mark.usefixtures("refusing_mlflow")
def test_reload_kedro_explains_the_refusal_in_one_line(make_project, ipython_shell, monkeypatch):
    """A project hook that opens ./mlruns, as kedro-mlflow's does with ``mlflow_tracking_uri:
    null``: %reload_kedro says what to change, as a UsageError."""
    from IPython.core.error import UsageError

    root = make_project(
        NODES,
        PIPELINES,
        parameters="offset: 1\n",
        files={"conf/local/mlflow.yml": "server:\n  mlflow_tracking_uri: null\n"},
    )
    package = next((root / "src").iterdir()).name
    (root / "src" / package / "settings.py").write_text(REFUSING_HOOK)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    ipython_shell.run_line_magic("load_ext", "kedro_mlflow_magic")
    from kedro_mlflow_magic.magics import reload_kedro

    with pytest.raises(UsageError, match=r"conf/local/mlflow\.yml.*MLFLOW_ALLOW_FILE_STORE=true"):
        reload_kedro(str(root))


class PipelineMLShaped(Pipeline):
    """What kedro-mlflow's ``pipeline_ml_factory`` returns, by the attributes we read: a training
    pipeline that carries its ``inference`` pipeline and ``input_name``."""

    def __init__(self, training: Pipeline, inference: Pipeline, input_name: str) -> None:
        super().__init__(training.nodes)
        self.inference = inference
        self.input_name = input_name


@pytest.fixture
def pipeline_ml(make_project):
    from importlib import import_module

    root = make_project(
        NODES,
        "return {}",
        catalog="""\
        frame:
          type: pandas.CSVDataset
          filepath: data/frame.csv
        mean:
          type: pickle.PickleDataset
          filepath: data/mean.pkl
        """,
    )
    (root / "data").mkdir()
    frame = pd.DataFrame({"value": [1.0, 2.0, 4.0]})
    frame.to_csv(root / "data" / "frame.csv", index=False)
    project = load_project(root)
    project.catalog.save("mean", float(frame["value"].mean()))
    nodes = import_module(f"{project.package}.nodes")
    training = pipeline([node(nodes.fit, "frame", "mean")])
    inference = pipeline([node(nodes.centre, ["rows", "mean"], "centred")])
    return project, PipelineMLShaped(training, inference, "rows")


def test_a_pipeline_ml_is_read_as_its_inference_pipeline_and_input_name(pipeline_ml):
    project, training_ml = pipeline_ml
    roles = inspect_pipeline(training_ml, project.catalog)
    assert roles.data_input == "rows"
    assert list(roles.artifacts) == ["mean"]
    assert roles.outputs == ["centred"]
    assert "kedro-mlflow PipelineML" in str(roles) and "input_name 'rows'" in str(roles)
    assert "kedro-mlflow PipelineML" in roles._repr_html_()


def test_a_pipeline_ml_logs_its_inference_pipeline_and_says_so(pipeline_ml):
    project, training_ml = pipeline_ml
    sample = pd.DataFrame({"value": [3.0, 5.0]})
    prepared = prepare_pipeline(training_ml, project.catalog, sample=sample)
    assert prepared.data_input == "rows" and prepared.output == "centred"
    logged = prepared.log()
    text = logged_text(logged)
    assert "note" in text and "kedro-mlflow PipelineML" in text
    import mlflow

    predicted = mlflow.pyfunc.load_model(logged.model_info.model_uri).predict(sample)
    assert predicted["value"].tolist() == pytest.approx([3.0 - 7 / 3, 5.0 - 7 / 3])
