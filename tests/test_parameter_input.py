"""A parameter as the model's input (issue 29): a kedro-mlflow ``PipelineML`` whose
``input_name`` is a parameter (read by duck typing; kedro-mlflow is not installed here, so a
``Pipeline`` with its two attributes stands for one). ``%kedro_inputs`` and ``%kedro_log_model``
agree: both take the parameter as the model's input, one row a call, a column per field, and
the nodes get the value as Kedro gives the parameter."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from sessions import LoadedProject, load_project

from kedro_mlflow_magic import inspect_pipeline, prepare_pipeline
from kedro_mlflow_magic.errors import NoDataInputError, SampleError

NODES = """
import pandas as pd


def fit(width_scale):
    return {"scale": width_scale}


def describe(image, model):
    # written for the parameter as Kedro gives it: a dict, nested fields as dicts
    area = image["size"]["width"] * image["size"]["height"] * model["scale"]
    return pd.DataFrame({"path": [image["path"]], "area": [float(area)]})


def flag(threshold, model):
    return pd.DataFrame({"over": [threshold > model["scale"]]})


def echo(threshold):
    return pd.DataFrame({"threshold": [threshold]})
"""

PIPELINES = """
training = pipeline([node(nodes.fit, "params:width_scale", "model", name="fit")])
inference = pipeline([node(nodes.describe, ["params:image", "model"], "described",
                           name="describe")])
flagging = pipeline([node(nodes.flag, ["params:threshold", "model"], "flagged", name="flag")])
echoing = pipeline([node(nodes.echo, "params:threshold", "echoed", name="echo")])
return {"training": training, "inference": inference, "flagging": flagging,
        "echoing": echoing, "__default__": training}
"""

PARAMETERS = """
width_scale: 2
threshold: 0.5
image:
  path: data/cat.png
  size:
    width: 4
    height: 3
"""


class PipelineMLLike(Pipeline):
    """What kedro-mlflow's ``pipeline_ml_factory(training, inference, input_name)`` gives, as
    far as this package reads it: the training pipeline, with ``inference`` and
    ``input_name``."""

    def __init__(self, training: Pipeline, inference: Pipeline, input_name: str) -> None:
        super().__init__(training.nodes)
        self.inference = inference
        self.input_name = input_name


@pytest.fixture
def project(make_project) -> LoadedProject:
    root = make_project(
        NODES, PIPELINES, catalog="model:\n  type: pickle.PickleDataset\n"
        "  filepath: data/model.pkl\n", parameters=PARAMETERS,
    )  # fmt: skip
    loaded = load_project(root)
    SequentialRunner().run(loaded.pipelines["training"], loaded.catalog)
    loaded.pipelines["image_ml"] = PipelineMLLike(
        loaded.pipelines["training"], loaded.pipelines["inference"], "params:image"
    )
    return loaded


ONE_IMAGE = pd.DataFrame({"path": ["b.png"], "size.width": [10], "size.height": [2]})


def test_both_magics_take_the_parameter_as_the_model_input(project, project_notebook):
    shell = project_notebook(project, ONE_IMAGE=ONE_IMAGE)
    roles = shell.run_line_magic("kedro_inputs", "image_ml")
    assert roles.data_input == "params:image" and "params:image" not in roles.parameters
    assert not roles.problems
    assert "a parameter as the model's input: one row a call, a column per field" in str(roles)

    info = shell.run_line_magic("kedro_log_model", "image_ml")
    assert [spec.name for spec in info.signature.inputs.inputs] == [
        "path", "size.width", "size.height",
    ]  # fmt: skip
    assert "parity check  all 1 rows agree" in str(info)
    model = mlflow.pyfunc.load_model(info.model_uri)
    predicted = model.predict(ONE_IMAGE)
    assert predicted.to_dict("list") == {"path": ["b.png"], "area": [40.0]}

    # as Kedro's runner answers with that parameter
    compared = shell.run_line_magic("kedro_predict", "--data ONE_IMAGE --compare")
    assert compared.to_dict("list") == {"path": ["b.png"], "area": [40.0]}
    with pytest.raises(mlflow.exceptions.MlflowException, match="one row a call"):
        model.predict(pd.concat([ONE_IMAGE, ONE_IMAGE]))


def test_a_parameter_named_as_the_input_in_python_and_a_scalar_one(project):
    pipeline_ = project.pipelines["flagging"]
    roles = inspect_pipeline(pipeline_, project.catalog, "params:threshold")
    assert roles.data_input == "params:threshold" and not roles.problems
    logged = prepare_pipeline(pipeline_, project.catalog, "params:threshold").log()
    model = mlflow.pyfunc.load_model(logged.model_info.model_uri)
    assert [spec.name for spec in logged.model_info.signature.inputs.inputs] == ["threshold"]
    assert model.predict(pd.DataFrame({"threshold": [3.5]}))["over"].tolist() == [True]


def test_several_rows_as_the_sample_and_no_parameter_named_say_what_to_do(project):
    pipeline_ = project.pipelines["flagging"]
    with pytest.raises(SampleError, match="one row a call"):
        prepare_pipeline(
            pipeline_, project.catalog, "params:threshold", pd.DataFrame({"threshold": [1, 2]})
        )
    only_parameters = project.pipelines["echoing"]
    with pytest.raises(NoDataInputError, match=r"--input params:threshold") as caught:
        prepare_pipeline(only_parameters, project.catalog)
    # the fix it names works
    fixed = prepare_pipeline(only_parameters, project.catalog, "params:threshold")
    assert fixed.sample.to_dict("list") == {"threshold": [0.5]}
    assert "data_input='params:threshold'" in str(caught.value)
