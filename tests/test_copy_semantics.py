"""Nodes that change their inputs in place (docs/explanation/behaviour.md#predicting): the model
gives what Kedro's SequentialRunner gives, where every node gets its own copy of each in-memory
input, and the caller's frame is left as it was. Real Kedro projects, real logged models, real runs
of the runner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kedro.io import MemoryDataset
from sessions import LoadedProject, kedro_output, load_project

from kedro_mlflow_magic import log_pipeline_model
from kedro_mlflow_magic.runtime import copy_plan, schedule_copies

NODES = """\
import numpy as np
import pandas as pd


# the data input, read by two nodes: the first changes it in place
def shrink_a(rows):
    rows["a"] = rows["a"] / 10
    return float(rows["a"].sum())


def report(rows, shrunk_total):
    return rows.assign(shrunk_total=shrunk_total)


# the data input's only reader changes it in place and returns it
def normalise_in_place(rows):
    rows["a"] = rows["a"] / rows["a"].max()
    return rows


# an intermediate frame read by three nodes; the first two change it in place
def add_c(rows):
    return rows.assign(c=rows["a"] * 2)


def scale_c(features):
    features["c"] *= 10
    return float(features["c"].sum())


def drop_b(features, scaled_total):
    features.drop(columns=["b"], inplace=True)
    return scaled_total + len(features.columns)


def combine(features, scaled_total, width):
    return features.assign(scaled_total=scaled_total, width=width)


# a numpy array (read-only: pandas hands out read-only views) read by two nodes
def to_matrix(rows):
    return rows[["a", "b"]].to_numpy()


def double_in_place(matrix):
    matrix *= 2
    return float(matrix.sum())


def summarise(matrix, doubled_total):
    return pd.DataFrame({"row_sum": matrix.sum(axis=1), "doubled_total": doubled_total})


def centre_in_place(matrix):
    matrix -= matrix.mean(axis=0)
    return pd.DataFrame(matrix, columns=["a", "b"])


# lists and dicts made by nodes, changed in place by a later reader
def collect(rows):
    return {"keys": rows["key"].tolist(), "seen": []}, ["first"]


def mark(notes, labels):
    notes["seen"].append("mark")
    notes["keys"].clear()
    labels.append("marked")
    return len(labels)


def tally(rows, notes, labels, marked):
    return rows.assign(
        keys=len(notes["keys"]), seen=len(notes["seen"]), labels=len(labels), marked=marked
    )


# one node returns the same frame under two names; a reader of one changes it
def twice(rows):
    frame = rows.assign(d=rows["a"] * 2)
    return frame, frame


def bump(left):
    left["d"] = left["d"] + 100
    return float(left["d"].sum())


def finish(right, bumped):
    return right.assign(bumped=bumped)


# a list parameter changed in place, and read again inside the dict parameter holding it
def extend_tags(rows, tags):
    tags.append("extra")
    return len(tags)


def count_tags(rows, extended, options):
    return rows.assign(extended=extended, tags=len(options["tags"]), scale=options["scale"])
"""

PIPELINES = """\
return {
    "data_input": pipeline([
        node(nodes.shrink_a, "rows", "shrunk_total", name="shrink_a"),
        node(nodes.report, ["rows", "shrunk_total"], "result", name="report"),
    ]),
    "single_reader": pipeline([
        node(nodes.normalise_in_place, "rows", "result", name="normalise_in_place"),
    ]),
    "intermediate": pipeline([
        node(nodes.add_c, "rows", "features", name="add_c"),
        node(nodes.scale_c, "features", "scaled_total", name="scale_c"),
        node(nodes.drop_b, ["features", "scaled_total"], "width", name="drop_b"),
        node(nodes.combine, ["features", "scaled_total", "width"], "result", name="combine"),
    ]),
    "array": pipeline([
        node(nodes.to_matrix, "rows", "matrix", name="to_matrix"),
        node(nodes.double_in_place, "matrix", "doubled_total", name="double_in_place"),
        node(nodes.summarise, ["matrix", "doubled_total"], "result", name="summarise"),
    ]),
    "array_single_reader": pipeline([
        node(nodes.to_matrix, "rows", "matrix", name="to_matrix"),
        node(nodes.centre_in_place, "matrix", "result", name="centre_in_place"),
    ]),
    "lists_and_dicts": pipeline([
        node(nodes.collect, "rows", ["notes", "labels"], name="collect"),
        node(nodes.mark, ["notes", "labels"], "marked", name="mark"),
        node(nodes.tally, ["rows", "notes", "labels", "marked"], "result", name="tally"),
    ]),
    "same_object_twice": pipeline([
        node(nodes.twice, "rows", ["left", "right"], name="twice"),
        node(nodes.bump, "left", "bumped", name="bump"),
        node(nodes.finish, ["right", "bumped"], "result", name="finish"),
    ]),
    "parameters": pipeline([
        node(nodes.extend_tags, ["rows", "params:options.tags"], "extended", name="extend_tags"),
        node(nodes.count_tags, ["rows", "extended", "params:options"], "result",
             name="count_tags"),
    ]),
}
"""

PARAMETERS = """\
options:
  tags: [a, b]
  scale: 3
"""

SAMPLE = pd.DataFrame(
    {"key": [1, 2, 3, 4], "a": [10.0, 20.0, 30.0, 40.0], "b": [1.0, 2.0, 3.0, 4.0]}
)
FRAME = pd.DataFrame({"key": [7, 8], "a": [5.0, 50.0], "b": [0.5, -1.0]})


@pytest.fixture
def project(make_project) -> LoadedProject:
    return load_project(make_project(nodes=NODES, pipelines=PIPELINES, parameters=PARAMETERS))


def logged_model(project: LoadedProject, pipeline_name: str):
    """The pipeline logged (its parity check on the sample passed) and loaded as a pyfunc."""
    import mlflow

    info = log_pipeline_model(
        project.pipelines[pipeline_name], project.catalog, "rows", SAMPLE, example_rows=4
    )
    return mlflow.pyfunc.load_model(info.model_uri)


def predict_both_ways(model, frame: pd.DataFrame) -> list[pd.DataFrame]:
    """The pyfunc's prediction, checked to leave the caller's frame as it was (MLflow's schema
    enforcement hands the model a frame of its own), and the PythonModel's own (no MLflow
    schema enforcement), given a copy: the runtime does not copy the frame it is handed."""
    untouched = frame.copy()
    runtime_model = model.unwrap_python_model()
    schema = model.metadata.get_params_schema()
    defaults = {spec.name: spec.default for spec in schema.params} if schema else {}
    answers = [model.predict(frame)]
    pd.testing.assert_frame_equal(frame, untouched)
    answers.append(runtime_model.predict(None, frame.copy(), defaults))
    return answers


def assert_matches_runner(project: LoadedProject, pipeline_name: str) -> pd.DataFrame:
    """Log the pipeline, predict on FRAME both ways, compare with the runner; the prediction."""
    model = logged_model(project, pipeline_name)
    expected = kedro_output(project, pipeline_name, "rows", FRAME, output="result")
    for predicted in predict_both_ways(model, FRAME):
        pd.testing.assert_frame_equal(predicted, expected)
    return expected


def test_the_data_input_changed_in_place_by_one_reader_is_whole_for_the_next(project) -> None:
    result = assert_matches_runner(project, "data_input")
    assert list(result["a"]) == [5.0, 50.0]  # report read the caller's values
    assert set(result["shrunk_total"]) == {5.5}  # shrink_a saw its own change


def test_the_only_reader_may_change_the_data_input_but_not_the_callers_frame(project) -> None:
    result = assert_matches_runner(project, "single_reader")
    assert list(result["a"]) == [0.1, 1.0]


def test_an_intermediate_frame_changed_by_two_of_its_three_readers(project) -> None:
    result = assert_matches_runner(project, "intermediate")
    assert list(result.columns) == ["key", "a", "b", "c", "scaled_total", "width"]
    assert list(result["c"]) == [10.0, 100.0]  # not scaled by scale_c
    assert set(result["scaled_total"]) == {1100.0}
    assert set(result["width"]) == {1100.0 + 3}  # drop_b saw its own copy without b


def test_an_array_changed_in_place_by_its_readers(project) -> None:
    result = assert_matches_runner(project, "array")
    assert list(result["row_sum"]) == [5.5, 49.0]
    assert set(result["doubled_total"]) == {109.0}
    centred = assert_matches_runner(project, "array_single_reader")
    assert list(centred["a"]) == [-22.5, 22.5]


def test_lists_and_dicts_made_by_a_node_are_whole_for_each_reader(project) -> None:
    result = assert_matches_runner(project, "lists_and_dicts")
    assert list(result[["keys", "seen", "labels", "marked"]].iloc[0]) == [2, 0, 1, 2]


def test_one_object_returned_under_two_names_is_two_values(project) -> None:
    result = assert_matches_runner(project, "same_object_twice")
    assert list(result["d"]) == [10.0, 100.0]
    assert set(result["bumped"]) == {310.0}


def test_a_parameter_changed_in_place_leaves_the_dict_parameter_holding_it_whole(
    project,
) -> None:
    result = assert_matches_runner(project, "parameters")
    assert list(result[["extended", "tags", "scale"]].iloc[0]) == [3, 2, 3]


def plan(
    nodes: list[tuple[list[str], list[str]]],
    observed_after: set[str] = frozenset({"rows", "result"}),
    parameter_paths: dict[str, list[str]] | None = None,
    shared: set[str] = frozenset(),
) -> list[set[str]]:
    copies = copy_plan(nodes, observed_after, parameter_paths or {}, shared)
    assert all(not step.writable & step.copied for step in copies)
    return [set(step.copied) for step in copies]


def test_the_copy_plan_copies_for_every_reader_but_the_last_of_each_value() -> None:
    # the demo's shape: the frame read by two nodes, an array by one, an artifact
    assert plan(
        [(["rows", "encoder"], ["features"]),
         (["rows", "features", "classifier", "params:threshold"], ["result"])],
        {"result"},
        shared={"encoder", "classifier"},
        parameter_paths={"params:threshold": ["threshold"]},
    ) == [{"rows"}, set()]  # fmt: skip
    # the caller's frame is the model's own (MLflow made it): its last reader may change it
    assert plan([(["rows"], ["x"]), (["rows", "x"], ["result"])], {"result"}) == [{"rows"}, set()]
    # an intermediate read by three nodes; transcoded names are one dataset
    assert plan(
        [(["rows"], ["x@pandas"]), (["x@pandas"], ["y"]), (["x@pickle", "y"], ["z"]),
         (["x", "z"], ["result"])]
    ) == [{"rows"}, {"x"}, {"x"}, set()]  # fmt: skip


def test_the_copy_plan_treats_what_may_share_memory_as_one_value() -> None:
    # two outputs of one node may be one object: only the last reader of either gets it as is
    assert plan([(["rows"], ["a", "b"]), (["a"], ["c"]), (["b", "c"], ["result"])]) == [
        {"rows"}, {"a"}, set()
    ]  # fmt: skip
    # a sibling of the output is read after the output was made: the caller sees the output
    assert plan([(["rows"], ["result", "b"]), (["b"], ["c"])]) == [{"rows"}, {"b"}]
    # params:options holds the list params:options.tags; params:other is apart
    paths = {"params:options": ["options"], "params:options.tags": ["options", "tags"],
             "params:other": ["other"]}  # fmt: skip
    assert plan(
        [(["params:options.tags", "params:other"], ["x"]), (["params:options", "x"], ["y"]),
         (["params:other", "y"], ["result"])],
        parameter_paths=paths,
    ) == [{"params:options.tags", "params:other"}, set(), set()]  # fmt: skip
    # ``parameters`` holds every parameter
    assert plan(
        [(["params:other"], ["x"]), (["parameters", "x"], ["result"])],
        parameter_paths={**paths, "parameters": []},
    ) == [{"params:other"}, set()]  # fmt: skip


def test_copies_are_made_as_soon_as_their_value_is_there() -> None:
    nodes = [(["rows", "encoder"], ["x"]), (["rows", "x"], ["y"]), (["x", "y"], ["z"]),
             (["x", "z"], ["result"])]  # fmt: skip
    at_start, steps = schedule_copies(
        copy_plan(nodes, {"rows", "result"}, {}, {"encoder"}), [outputs for _, outputs in nodes]
    )
    assert at_start == ((0, "rows"), (1, "rows"))  # the caller's frame, for both its readers
    assert [step.index for step in steps] == [0, 1, 2, 3]
    assert steps[0].made_after == ((1, "x"), (2, "x"))  # made when x is returned
    assert [step.made_after for step in steps[1:]] == [(), (), ()]
    assert [set(step.writable) for step in steps] == [set(), set(), {"y"}, {"x", "z"}]


def test_artifacts_are_never_copied_and_read_only_arrays_are_checked() -> None:
    copies = copy_plan(
        [(["rows", "model"], ["matrix"]), (["model", "matrix"], ["result"])],
        {"rows", "result"},
        {},
        {"model"},
    )
    assert [set(step.copied) for step in copies] == [{"rows"}, set()]
    # the last reader of a node's array makes it writable if it is not, as Kedro's copy would
    assert [set(step.writable) for step in copies] == [set(), {"matrix"}]


def test_a_copy_is_what_kedros_memory_dataset_gives() -> None:
    from kedro_mlflow_magic.runtime import own_copy

    frame = pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]})
    read_only = frame[["a"]].to_numpy()
    other_frame = type("DataFrame", (), {})()  # a Spark or polars frame, as Kedro tells them
    values = [frame, frame["a"], read_only, {"k": [1, [2]]}, [{"n": 1}], (1, [2]), 3, "text",
              None, other_frame]  # fmt: skip
    for value in values:
        ours, kedros = own_copy(value), MemoryDataset(value).load()
        assert type(ours) is type(kedros)
        if isinstance(value, pd.DataFrame):
            assert ours is not value
            pd.testing.assert_frame_equal(ours, kedros)
        elif isinstance(value, pd.Series):
            assert ours is not value
            pd.testing.assert_series_equal(ours, kedros)
        elif isinstance(value, np.ndarray):
            assert ours is not value and ours.flags.writeable == kedros.flags.writeable
            np.testing.assert_array_equal(ours, kedros)
        else:
            assert ours == kedros
            assert (ours is value) == (kedros is value)
    # changing a copy in place leaves the original whole
    copied = own_copy(frame)
    copied["a"] *= 10
    copied.loc[0, "s"] = "changed"
    assert list(frame["a"]) == [1.0, 2.0] and list(frame["s"]) == ["x", "y"]
