"""Running a pipeline in the Kedro session (``runner``), on a real project with Kedro's own
SequentialRunner: the frame given as the data input, the artifacts as the session has them,
the parameter values given, transcoded intermediates shared, the session's catalog untouched,
and a failing node named."""

from __future__ import annotations

import pandas as pd
import pytest
from sessions import LoadedProject, load_project

from kedro_mlflow_magic.errors import PipelineRunError
from kedro_mlflow_magic.inspect.roles import inspect_pipeline
from kedro_mlflow_magic.verify.reference_run import run_in_session

NODES = """\
import pandas as pd


def weigh(frame, weights, factor):
    return pd.DataFrame({"key": frame["key"], "value": frame["x"] * weights["w"] * factor})


def total(weighed):
    return weighed.assign(total=weighed["value"].sum())


def refuse(frame):
    raise ValueError(f"no rows like these: {len(frame)}")
"""

PIPELINES = """\
flow = pipeline([
    node(nodes.weigh, ["frame", "weights", "params:factor"], "weighed@pandas", name="weigh"),
    node(nodes.total, "weighed@pickle", "scored", name="total"),
])
broken = pipeline([node(nodes.refuse, "frame", "refused", name="refuse")])
return {"flow": flow, "broken": broken, "__default__": flow}
"""

CATALOG = """\
weights:
  type: pickle.PickleDataset
  filepath: data/weights.pkl
scored:
  type: pandas.CSVDataset
  filepath: data/scored.csv
"""

FRAME = pd.DataFrame({"key": [1, 2], "x": [1.0, 2.0]})


@pytest.fixture
def project(make_project) -> LoadedProject:
    root = make_project(
        NODES, PIPELINES, CATALOG, parameters="factor: 10\n", pickles={"data/weights.pkl": {"w": 2}}
    )
    return load_project(root)


def test_the_pipeline_runs_on_the_frame_with_the_session_artifacts_and_given_values(
    project: LoadedProject,
) -> None:
    pipeline = project.pipelines["flow"]
    roles = inspect_pipeline(pipeline, project.catalog, "frame")
    assert list(roles.artifacts) == ["weights"] and roles.parameters == {"params:factor": 10}

    result = run_in_session(
        pipeline, project.catalog, roles, FRAME, {"params:factor": 10}, "scored"
    )
    assert result.to_dict("list") == {"key": [1, 2], "value": [20.0, 40.0], "total": [60.0] * 2}
    overridden = run_in_session(
        pipeline, project.catalog, roles, FRAME, {"params:factor": 1}, "scored"
    )
    assert overridden["value"].tolist() == [2.0, 4.0]
    # the run has a catalog of its own: the session's output dataset was never written
    assert not (project.root / "data" / "scored.csv").exists()
    assert not project.catalog.exists("scored")


def test_a_failing_node_is_named_with_its_exception(project: LoadedProject) -> None:
    pipeline = project.pipelines["broken"]
    roles = inspect_pipeline(pipeline, project.catalog, "frame")
    with pytest.raises(
        PipelineRunError,
        match=r"^node 'refuse' failed: ValueError: no rows like these: 2$",
    ):
        run_in_session(pipeline, project.catalog, roles, FRAME, {}, "refused")
