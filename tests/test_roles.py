"""Input roles (docs/explanation/behaviour.md#input-roles): each kind of problem with its reason and
fix, freezing, the data input guess, and the errors for an unknown data input or an output not
chosen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from kedro.pipeline import node, pipeline
from model_files import assert_model_is_clean
from sessions import LoadedProject, load_project

from kedro_mlflow_magic import (
    OutputNotChosenError,
    PackagingError,
    UnknownDataInputError,
    inspect_pipeline,
    log_pipeline_model,
)

NODES = """\
def use_everything(frame, empty, in_memory, table, absent, outside, threshold, missing):
    return frame


def add_lookup(frame, lookup):
    return frame.assign(bonus=frame["key"].map(lookup))


def double(frame):
    return frame * 2


def square(frame):
    return frame**2
"""

PIPELINES = """\
return {
    "problems": pipeline([
        node(nodes.use_everything,
             ["frame", "empty_memory", "memory_only", "sql_table", "absent_file",
              "outside_catalog", "params:threshold", "params:not_set"],
             "out", name="use_everything"),
    ]),
    "lookup": pipeline([node(nodes.add_lookup, ["frame", "memory_only"], "scored")]),
    "two_outputs": pipeline([
        node(nodes.double, "frame", "doubled"),
        node(nodes.square, "frame", "squared"),
    ]),
}
"""

CATALOG = """\
empty_memory:
  type: MemoryDataset
sql_table:
  type: pandas.SQLTableDataset
  table_name: customers
  credentials: warehouse
absent_file:
  type: pandas.CSVDataset
  filepath: data/absent.csv
"""


@pytest.fixture
def problems_project(make_project, tmp_path: Path) -> LoadedProject:
    database = tmp_path / "warehouse.db"
    with sqlite3.connect(database) as connection:
        pd.DataFrame({"key": [1, 2], "name": ["a", "b"]}).to_sql("customers", connection)
    root = make_project(
        nodes=NODES,
        pipelines=PIPELINES,
        catalog=CATALOG,
        parameters="threshold: 0.5\n",
        credentials=f"warehouse:\n  con: sqlite:///{database}\n",
    )
    project = load_project(root)
    project.catalog["memory_only"] = {1: 10.0, 2: 20.0}
    return project


def problems_by_name(project: LoadedProject, **options) -> dict:
    roles = inspect_pipeline(project.pipelines["problems"], project.catalog, "frame", **options)
    return {problem.name: problem for problem in roles.problems}


def test_each_problem_kind_has_its_reason_and_fix(problems_project: LoadedProject) -> None:
    # the SQL table is real data, just not in files
    assert list(problems_project.catalog.load("sql_table")["name"]) == ["a", "b"]
    problems = problems_by_name(problems_project)
    # input: (kind, in its reason, in its fix)
    expected = {
        "empty_memory": ("empty-memory", "MemoryDataset with no data", "pickle.PickleDataset"),
        "memory_only": ("memory-only", "only in memory", "freeze=['memory_only']"),
        "sql_table": ("not-in-files", "SQLTableDataset", "--freeze sql_table"),
        "absent_file": ("missing-file", "data/absent.csv", "kedro run"),
        "outside_catalog": ("not-in-catalog", "not in the catalog", "catalog.yml"),
        "params:not_set": (
            "missing-parameter", "not set", "'not_set' to conf/base/parameters.yml"
        ),
    }  # fmt: skip
    assert {name: problem.kind for name, problem in problems.items()} == {
        name: kind for name, (kind, _, _) in expected.items()
    }
    for name, (_, reason, fix) in expected.items():
        assert reason in problems[name].reason, (name, problems[name].reason)
        assert fix in problems[name].fix, (name, problems[name].fix)
    assert str(problems["absent_file"]).startswith("absent_file: has no file at ")


def test_freezing_turns_data_not_in_files_into_artifacts(problems_project: LoadedProject) -> None:
    roles = inspect_pipeline(
        problems_project.pipelines["problems"],
        problems_project.catalog,
        "frame",
        freeze=["memory_only", "sql_table"],
    )
    assert {"memory_only", "sql_table"} <= set(roles.artifacts)
    assert roles.artifacts["sql_table"].frozen
    assert {problem.name for problem in roles.problems} == {
        "empty_memory",
        "absent_file",
        "outside_catalog",
        "params:not_set",
    }
    assert roles.parameters == {"params:threshold": 0.5}


def test_packaging_refuses_a_pipeline_with_problems_listing_each(
    problems_project: LoadedProject,
) -> None:
    with pytest.raises(PackagingError) as raised:
        log_pipeline_model(
            problems_project.pipelines["problems"],
            problems_project.catalog,
            "frame",
            pd.DataFrame({"key": [1]}),
        )
    message = str(raised.value)
    for name in ["empty_memory", "memory_only", "sql_table", "absent_file", "params:not_set"]:
        assert f"  - {name}: " in message


def test_a_frozen_value_is_the_one_the_model_uses(problems_project: LoadedProject) -> None:
    import mlflow

    lookup = problems_project.pipelines["lookup"]
    roles = inspect_pipeline(lookup, problems_project.catalog, "frame")
    assert [problem.kind for problem in roles.problems] == ["memory-only"]

    frame = pd.DataFrame({"key": [2, 1, 2]})
    info = log_pipeline_model(
        lookup, problems_project.catalog, "frame", frame, freeze=["memory_only"]
    )
    problems_project.catalog["memory_only"] = {1: -1.0, 2: -2.0}  # later changes do not leak in
    model = mlflow.pyfunc.load_model(info.model_uri)
    assert list(model.predict(frame)["bonus"]) == [20.0, 10.0, 20.0]
    assert_model_is_clean(info.model_uri, allowed_pickles={"value.pkl"})


def test_a_node_function_from_the_notebook_or_a_lambda_is_a_problem(
    problems_project: LoadedProject,
) -> None:
    notebook: dict = {"__name__": "__main__"}
    exec("def halve(frame):\n    return frame / 2\n", notebook)  # as a notebook cell defines it
    flow = pipeline(
        [
            node(notebook["halve"], "frame", "halved", name="halve"),
            node(lambda frame: frame + 1, "halved", "shifted", name="shift"),
        ]
    )
    problems = {
        problem.name: problem
        for problem in inspect_pipeline(flow, problems_project.catalog).problems
    }
    assert set(problems) == {"node halve", "node shift"}
    assert "defined in the notebook (__main__)" in problems["node halve"].reason
    assert "lambda" in problems["node shift"].reason
    assert "src/<package>/nodes.py" in problems["node shift"].fix
    with pytest.raises(PackagingError, match=r"node halve: .*__main__"):
        log_pipeline_model(flow, problems_project.catalog, "frame", pd.DataFrame({"key": [1]}))


def test_the_data_input_is_guessed_when_one_free_input_is_left(demo: LoadedProject) -> None:
    roles = inspect_pipeline(demo.pipelines["inference"], demo.catalog)
    assert roles.data_input == "customers_to_score"
    assert set(roles.artifacts) == {"encoder", "classifier"}
    assert roles.artifacts["classifier"].dataset_type.endswith("PickleDataset")
    assert roles.artifacts["classifier"].path.endswith("data/06_models/classifier.pkl")
    assert roles.parameters["params:threshold"] == 0.5
    assert roles.parameters["params:scoring"]["labels"] == {"positive": "churn", "negative": "stay"}
    assert roles.problems == []
    assert roles.outputs == ["predictions"]


def test_no_guess_when_several_free_inputs_are_left(problems_project: LoadedProject) -> None:
    roles = inspect_pipeline(problems_project.pipelines["problems"], problems_project.catalog)
    assert roles.data_input is None
    assert "frame" in roles.data_input_candidates
    assert "outside_catalog" in roles.data_input_candidates


def test_an_unknown_data_input_lists_the_free_inputs(demo: LoadedProject) -> None:
    with pytest.raises(UnknownDataInputError) as raised:
        inspect_pipeline(demo.pipelines["inference"], demo.catalog, "customers")
    message = str(raised.value)
    assert "'customers' is not a free input" in message
    for name in ["classifier", "customers_to_score", "encoder", "params:scoring"]:
        assert name in message


def test_several_outputs_without_a_choice_lists_them(problems_project: LoadedProject) -> None:
    frame = pd.DataFrame({"key": [1, 2]})
    two_outputs = problems_project.pipelines["two_outputs"]
    with pytest.raises(OutputNotChosenError, match="several outputs: doubled, squared"):
        log_pipeline_model(two_outputs, problems_project.catalog, "frame", frame)
    with pytest.raises(
        OutputNotChosenError,
        match=r"'cubed' is not a dataset the pipeline produces.*doubled, squared",
    ):
        log_pipeline_model(two_outputs, problems_project.catalog, "frame", frame, output="cubed")


# --- a project shaped like a kedro-mlflow text classifier (issue 10; ``text_project``) ------


def test_a_persisted_frame_is_the_data_input_and_trained_inputs_are_artifacts(
    text_project: LoadedProject,
) -> None:
    inference = text_project.pipelines["inference"]
    roles = inspect_pipeline(inference, text_project.catalog, pipelines=text_project.pipelines)
    assert roles.data_input == "reviews"
    assert set(roles.artifacts) == {"tokenizer", "encoder", "model", "settings"}
    assert roles.problems == []
    assert "ready to log" in str(roles)


def test_an_undetermined_data_input_is_a_problem_with_the_fix(
    text_project: LoadedProject,
) -> None:
    """Two persisted frames that no pipeline produces: the choice stays open, and says how."""
    inference = text_project.pipelines["inference"]
    both = inference + pipeline([node(len, "more_reviews", "counted", name="count")])
    roles = inspect_pipeline(both, text_project.catalog, pipelines=text_project.pipelines)
    assert roles.data_input is None
    assert roles.data_input_candidates == ["more_reviews", "reviews"]
    assert "more_reviews" not in roles.artifacts and "reviews" not in roles.artifacts
    problem = roles.problems[0]
    assert problem.name == "data input"
    assert problem.fix == (
        "name it: --input more_reviews in a magic, data_input='more_reviews' in Python."
    )
    text = str(roles)
    assert "problem(s) stop packaging" in text and "ready to log" not in text


def test_without_pipelines_the_persisted_frame_is_still_guessed(
    text_project: LoadedProject,
) -> None:
    inference = text_project.pipelines["inference"]
    roles = inspect_pipeline(inference, text_project.catalog)  # the old signature still works
    assert roles.data_input == "reviews"
    assert "reviews" not in roles.artifacts
