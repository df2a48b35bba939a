"""Predicting with a logged model (docs/explanation/behaviour.md#predicting): parity with Kedro's
SequentialRunner, per-call parameters, errors that name what is wrong, and concurrent calls."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sessions import LoadedProject, kedro_output, load_project

from kedro_mlflow_magic import log_pipeline_model
from kedro_mlflow_magic.verify.parity import compare_results

DEMO_INPUT = "customers_to_score"


@pytest.fixture(scope="module")
def demo_model(trained_demo: Path, mlflow_store: str):
    """The demo's inference pipeline, logged once for this module: (pyfunc model, sample)."""
    import mlflow

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        project = load_project(trained_demo)
        sample = project.catalog.load("customers").drop(columns=["churned"]).head(40)
        info = log_pipeline_model(
            project.pipelines["inference"], project.catalog, DEMO_INPUT, sample
        )
        model = mlflow.pyfunc.load_model(info.model_uri)
    return model, sample


def test_demo_predictions_match_the_sequential_runner(demo_model, demo: LoadedProject) -> None:
    model, sample = demo_model
    frame = sample.tail(25).reset_index(drop=True)
    expected = kedro_output(demo, "inference", DEMO_INPUT, frame)
    predicted = model.predict(frame)
    pd.testing.assert_frame_equal(predicted, expected)
    assert set(predicted["label"]) <= {"churn", "stay"}
    assert len(predicted) == 25


def test_a_parameter_is_overridden_per_call_and_back_to_default_next_call(demo_model) -> None:
    model, sample = demo_model
    frame = sample.head(30)
    default = model.predict(frame)
    low = model.predict(frame, params={"threshold": 0.2})
    expected_low = np.where(default["churn_probability"] >= 0.2, "churn", "stay")
    assert list(low["label"]) == list(expected_low)
    assert (low["label"] == "churn").sum() > (default["label"] == "churn").sum()
    pd.testing.assert_frame_equal(model.predict(frame), default)


def test_a_nested_key_is_overridden_by_its_dotted_name_alone(demo_model) -> None:
    model, sample = demo_model
    frame = sample.head(30)
    default = model.predict(frame)
    renamed = model.predict(frame, params={"scoring.labels.positive": "leaving"})
    churners = default["label"] == "churn"
    assert churners.any()
    assert set(renamed.loc[churners, "label"]) == {"leaving"}
    # the sibling keys of the dict keep their defaults
    assert set(renamed.loc[~churners, "label"]) == {"stay"}
    pd.testing.assert_series_equal(renamed["churn_probability"], default["churn_probability"])
    pd.testing.assert_frame_equal(model.predict(frame), default)


def test_a_wrong_parameter_type_names_the_parameter(demo_model) -> None:
    from mlflow.exceptions import MlflowException

    model, sample = demo_model
    with pytest.raises(MlflowException, match="threshold"):
        model.predict(sample.head(3), params={"threshold": "high"})
    assert len(model.predict(sample.head(3), params={"threshold": 0.3})) == 3


def test_a_missing_column_names_the_column_and_the_model_stays_usable(demo_model) -> None:
    from mlflow.exceptions import MlflowException

    model, sample = demo_model
    with pytest.raises(MlflowException, match=r"missing inputs.*plan"):
        model.predict(sample.head(3).drop(columns=["plan"]))
    assert list(model.predict(sample.head(3))["customer_id"]) == [1, 2, 3]


def test_a_failing_node_is_named_and_the_model_stays_usable(demo_model) -> None:
    from mlflow.exceptions import MlflowException

    model, sample = demo_model
    broken = sample.head(3).assign(monthly_charges=np.nan)
    with pytest.raises(MlflowException, match=r"node 'score_customers' failed: ValueError"):
        model.predict(broken)
    assert model.predict(sample.head(3))["churn_probability"].between(0, 1).all()


def test_concurrent_calls_with_different_parameters_do_not_mix(demo_model) -> None:
    model, sample = demo_model
    frame = sample.head(40)
    thresholds = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    labels = [f"churn-{index}" for index in range(len(thresholds))]

    def predict_labels(threshold: float, label: str) -> list[str]:
        params = {"threshold": threshold, "scoring.labels.positive": label}
        return list(model.predict(frame, params=params)["label"])

    expected = dict(zip(labels, map(predict_labels, thresholds, labels), strict=True))
    churners = [sum(value == label for value in expected[label]) for label in labels]
    assert churners == sorted(churners, reverse=True) and churners[0] > churners[-1]

    def predict_repeatedly(threshold: float, label: str) -> list[list[str]]:
        return [predict_labels(threshold, label) for _ in range(10)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(predict_repeatedly, thresholds, labels))
    for label, repeated in zip(labels, answers, strict=True):
        assert all(answer == expected[label] for answer in repeated), label


# A custom project: list and dict node inputs and outputs, transcoded names, and parameters that
# MLflow's schema cannot hold as they are (None, a 2-D list, a list of dicts, an empty dict).
NODES = """\
import pandas as pd


def prepare(rows, offset):
    shifted = rows.assign(a=rows["a"] + offset)
    return {"left": shifted[["key", "a", "b"]], "right": shifted[["key", "name"]]}


def join(numbers, lookup, weights):
    scored = numbers.merge(lookup, on="key", how="left")
    scored["score"] = scored["a"] * weights["a"] + scored["b"] * weights["b"] + scored["bonus"]
    return scored, len(scored)


def finish(scored, names, row_count, cutoff, matrix, rules, extra):
    result = scored[["key", "score"]].merge(names, on="key")
    result["rows"] = row_count
    result["flag"] = "none" if cutoff is None else (result["score"] > cutoff).map(str)
    result["matrix"] = sum(sum(row) for row in matrix)
    result["rules"] = "|".join(rule["name"] for rule in rules)
    result["extra"] = ",".join(sorted(extra))
    return result
"""

PIPELINES = """\
flow = pipeline([
    node(nodes.prepare, ["rows@pandas", "params:offset"],
         {"left": "numbers", "right": "names@pickle"}, name="prepare"),
    node(nodes.join, {"numbers": "numbers", "lookup": "lookup@pandas", "weights": "params:weights"},
         ["scored", "row_count"], name="join"),
    node(nodes.finish,
         {"scored": "scored", "names": "names@raw", "row_count": "row_count",
          "cutoff": "params:cutoff", "matrix": "params:matrix", "rules": "params:rules",
          "extra": "params:extra"},
         "result", name="finish"),
])
return {"flow": flow, "__default__": flow}
"""

CATALOG = """\
lookup@pandas:
  type: pandas.CSVDataset
  filepath: data/lookup.csv
names@pickle:
  type: pickle.PickleDataset
  filepath: data/names.pkl
names@raw:
  type: pickle.PickleDataset
  filepath: data/names.pkl
"""

PARAMETERS = """\
offset: 10
weights: {a: 1.5, b: -2.0}
cutoff: null
matrix: [[1, 2], [3, 4]]
rules: [{name: low}, {name: high}]
extra: {}
"""

ROWS = pd.DataFrame(
    {"key": [1, 2, 3, 2], "a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.0, 1.0, 2.0],
     "name": ["w", "x", "y", "z"]}
)  # fmt: skip


@pytest.fixture
def custom_project(make_project) -> LoadedProject:
    root = make_project(
        nodes=NODES,
        pipelines=PIPELINES,
        catalog=CATALOG,
        parameters=PARAMETERS,
        files={"data/lookup.csv": "key,bonus\n1,0.5\n2,1.5\n3,-1.0\n"},
    )
    return load_project(root)


def log_custom(project: LoadedProject):
    import mlflow

    info = log_pipeline_model(
        project.pipelines["flow"], project.catalog, "rows@pandas", ROWS, example_rows=4
    )
    return info, mlflow.pyfunc.load_model(info.model_uri)


def test_custom_pipeline_with_lists_dicts_and_transcoding_matches_the_runner(
    custom_project: LoadedProject,
) -> None:
    _info, model = log_custom(custom_project)
    frame = ROWS.iloc[[3, 0, 2]].reset_index(drop=True)
    expected = kedro_output(custom_project, "flow", "rows@pandas", frame)
    predicted = model.predict(frame)
    assert compare_results(predicted, expected), compare_results(predicted, expected).detail
    pd.testing.assert_frame_equal(predicted, expected)
    assert list(predicted["score"]) == [18.5, 16.0, 16.5]
    assert list(predicted["flag"]) == ["none"] * 3
    assert set(predicted["matrix"]) == {10}
    assert set(predicted["rules"]) == {"low|high"}
    assert set(predicted["extra"]) == {""}
    assert set(predicted["rows"]) == {3}


def test_parameters_the_schema_cannot_hold_travel_as_json_and_are_overridable(
    custom_project: LoadedProject,
) -> None:
    info, model = log_custom(custom_project)
    schema = {spec.name: spec for spec in info.signature.params.params}
    assert json.loads(schema["cutoff"].default) is None
    assert json.loads(schema["matrix"].default) == [[1, 2], [3, 4]]
    assert json.loads(schema["rules"].default) == [{"name": "low"}, {"name": "high"}]
    assert json.loads(schema["extra"].default) == {}
    assert schema["weights.a"].default == 1.5

    frame = ROWS.head(2)
    overridden = model.predict(
        frame,
        params={
            "cutoff": "18",
            "matrix": "[[10, 20], [30, 40], [1, 1]]",
            "rules": '[{"name": "only"}]',
            "extra": '{"x": 1, "y": 2}',
            "weights.b": 0.0,
        },
    )
    assert list(overridden["score"]) == [17.0, 19.5]  # (a + 10) * 1.5 + bonus, b weighs 0
    assert list(overridden["flag"]) == ["False", "True"]
    assert set(overridden["matrix"]) == {102}
    assert set(overridden["rules"]) == {"only"}
    assert set(overridden["extra"]) == {"x,y"}

    default = model.predict(frame)
    assert list(default["flag"]) == ["none", "none"]
    assert set(default["matrix"]) == {10}
    assert set(default["rules"]) == {"low|high"}
    assert list(default["score"]) == [16.0, 19.5]


GREEDY_NODES = '''
import pandas as pd


def tag_rows(rows, tags, options):
    """Changes its parameters in place: a careless node the model must survive."""
    tags.append("seen")
    options["calls"] = options.get("calls", 0) + 1
    return pd.DataFrame({"tags": [len(tags)] * len(rows), "calls": [options["calls"]] * len(rows)})
'''


def test_a_node_that_changes_its_parameters_in_place_cannot_change_later_calls(
    make_project,
) -> None:
    import mlflow

    root = make_project(
        nodes=GREEDY_NODES,
        pipelines="""
            return {"tag": pipeline([node(nodes.tag_rows, ["rows", "params:tags", "params:options"],
                                          "tagged")])}
        """,
        parameters="tags: [a, b]\noptions:\n  limit: 3\n",
    )
    project = load_project(root)
    info = log_pipeline_model(project.pipelines["tag"], project.catalog, "rows", ROWS.head(2))
    model = mlflow.pyfunc.load_model(info.model_uri)
    answers = [model.predict(ROWS.head(2)) for _ in range(3)]
    for answer in answers:
        assert list(answer["tags"]) == [3, 3]  # the two defaults plus this call's own "seen"
        assert list(answer["calls"]) == [1, 1]


# --- large pipelines (issue 22): each usual node one step, decided at load time ---------------


def chain_manifest(size: int) -> dict[str, Any]:
    """A manifest of ``size`` nodes adding a parameter to the previous value in turn."""
    from kedro_mlflow_magic.runtime import MANIFEST_FORMAT

    def value(index: int) -> str:
        return "x" if index == 0 else f"v{index}"

    return {
        "format": MANIFEST_FORMAT, "data_input": "x", "output": value(size),
        "output_column": None, "artifacts": [], "included_files": [], "versions": {},
        "nodes": [
            {"name": f"add_{index}", "function": "operator:add",
             "inputs": [value(index), "params:step"], "outputs": value(index + 1)}
            for index in range(size)
        ],
        "parameters": [{"name": "step", "path": ["step"], "default": 1.0, "encoding": "plain"}],
        "parameter_inputs": {"params:step": ["step"]},
    }  # fmt: skip


def test_each_usual_node_of_a_large_pipeline_is_one_step_and_none_is_copied() -> None:
    from types import SimpleNamespace

    from kedro_mlflow_magic.runtime import model_config_of
    from kedro_mlflow_magic.runtime.model import PipelineModel

    model = PipelineModel()
    model.load_context(
        SimpleNamespace(model_config=model_config_of(chain_manifest(1000)), artifacts={})
    )
    # positional inputs, one output: a single function per node (no layers of calls); a node
    # reading another's output checks that it is not a read-only array (Kedro's copy would not be)
    names = [step.__name__ for step in model.steps]
    assert names[0] == "plain_step" and set(names[1:]) == {"checked_step"}
    # the float parameter read by every node is never copied, nor is anything else
    assert model.copies_at_start == () and model.artifact_copies == ()
    assert all(not copies.copied for copies in model.step_copies)
    assert model.predict(None, 0.0, {"step": 0.5}) == 500.0
    assert model.predict(None, 1.0) == 1001.0
