"""Hardening of the input roles, the logged model and predicting: bad input at log time, faults in
the middle of logging, awkward dataset names, and what a logged model may contain and where logging
may write."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from model_files import assert_model_is_clean
from sessions import LoadedProject, kedro_output, load_project

from kedro_mlflow_magic import inspect_pipeline, log_pipeline_model
from kedro_mlflow_magic.errors import (
    AmbiguousDataInputError,
    PackagingError,
    ParameterError,
    ParityError,
    PipelineRunError,
    SampleError,
)
from kedro_mlflow_magic.runtime import read_manifest

NODES = """
import numpy as np
import pandas as pd


def scale(frame: pd.DataFrame, factor: float) -> pd.DataFrame:
    return frame.assign(scaled=frame["value"] * factor)


def weigh(frame: pd.DataFrame, weights: dict) -> pd.DataFrame:
    return frame.assign(weighted=frame["scaled"] * weights["w"] + weights["b"])


def refuse_negatives(frame: pd.DataFrame) -> pd.DataFrame:
    if (frame["value"] < 0).any():
        raise ValueError("column 'value' has negative numbers")
    return frame


def constant(k: int) -> pd.DataFrame:
    return pd.DataFrame({"k": [k]})


def jitter(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(noise=frame["value"] + np.random.default_rng().random(len(frame)))


def join_table(frame: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    return frame.merge(table, on="key", how="left")
"""

SECRET = "hunter2-s3cr3t-token"
CREDENTIALS = f"""
api:
  token: {SECRET}
"""
WEIGHTS = {"w": 3.0, "b": 0.5}


def sample_frame(rows: int = 12) -> pd.DataFrame:
    return pd.DataFrame({"key": [f"k{i % 3}" for i in range(rows)], "value": range(rows)})


def write_pickle(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(value))


WEIGHTS_CATALOG = """
weights:
  type: pickle.PickleDataset
  filepath: data/06_models/weights.pkl
"""

# ``p``: ``rows`` scaled by ``params:factor``
SCALE = 'return {"p": pipeline([node(nodes.scale, ["rows", "params:factor"], "out")])}'


def scale_then_weigh(weights: str) -> str:
    """Pipelines text: ``p`` scales ``rows``, then weighs them with the artifact ``weights``."""
    return f"""return {{"p": pipeline([
        node(nodes.scale, ["rows", "params:factor"], "scaled"),
        node(nodes.weigh, ["scaled", "{weights}"], "out"),
    ])}}"""


def project_of(make_project, pipelines: str, **options: Any) -> LoadedProject:
    """A project of ``NODES`` with these pipelines (``factor: 2.0`` unless ``parameters`` are
    given, and any other option of ``make_project``), opened in a session."""
    options.setdefault("parameters", "factor: 2.0\n")
    return load_project(make_project(nodes=NODES, pipelines=pipelines, **options))


def catalog_state(catalog) -> dict[str, str]:
    """Every dataset name of the catalog with a printable form of its current value."""
    state = {}
    for name in sorted(catalog.keys()):
        dataset = catalog.get(name)
        state[name] = repr(catalog.load(name)) if dataset.exists() else "<no data>"
    return state


def runs_of(experiment_name: str) -> pd.DataFrame:
    import mlflow

    return mlflow.search_runs(experiment_names=[experiment_name])


# ---- bad input at log time ---------------------------------------------------------------


def test_a_pipeline_whose_free_inputs_are_all_parameters_is_refused(make_project) -> None:
    project = project_of(
        make_project,
        'return {"__default__": pipeline([node(nodes.constant, "params:k", "out")])}',
        parameters="k: 3\n",
    )
    with pytest.raises(AmbiguousDataInputError) as caught:
        log_pipeline_model(project.pipelines["__default__"], project.catalog, None, sample_frame())
    message = str(caught.value)
    assert "params:k" in message
    assert "no data input" in message
    assert "add an input" in message
    assert "--input params:k" in message  # the other way out: the parameter as the input
    # which takes one row a call (tests/test_parameter_input.py logs it)
    with pytest.raises(SampleError, match="one row a call"):
        log_pipeline_model(
            project.pipelines["__default__"], project.catalog, "params:k", sample_frame()
        )


@pytest.mark.parametrize(
    ("sample", "kind"), [([1, 2, 3], "list"), ({"value": 1}, "dict"), ("a,b", "str")]
)
def test_a_sample_that_is_not_a_frame_names_the_data_input(make_project, sample, kind) -> None:
    project = project_of(make_project, SCALE)
    with pytest.raises(SampleError) as caught:
        log_pipeline_model(project.pipelines["p"], project.catalog, "rows", sample)
    message = str(caught.value)
    assert f"the sample for 'rows' is a {kind}" in message
    assert "give a pandas, Spark or polars DataFrame or a numpy array" in message


def test_a_sample_without_rows_is_refused(make_project) -> None:
    project = project_of(make_project, SCALE)
    with pytest.raises(SampleError, match="the sample for 'rows' has no rows; give at least one"):
        log_pipeline_model(project.pipelines["p"], project.catalog, "rows", sample_frame(0))


def test_an_artifact_whose_file_is_missing_is_named_with_the_fix(make_project) -> None:
    project = project_of(make_project, scale_then_weigh("weights"), catalog=WEIGHTS_CATALOG)
    with pytest.raises(PackagingError) as caught:
        log_pipeline_model(project.pipelines["p"], project.catalog, "rows", sample_frame())
    message = str(caught.value)
    assert "weights: has no file at" in message
    assert "weights.pkl" in message
    assert "run the pipeline that produces it" in message


def sql_project(make_project) -> tuple[Path, str]:
    """A project whose ``table`` is a real pandas.SQLTableDataset on a sqlite file; the
    connection string, a credential, holds a made-up secret in the file's name."""
    secret_database = "db-password-9f8e7d.sqlite"
    root = make_project(
        nodes=NODES,
        pipelines='return {"p": pipeline([node(nodes.join_table, ["rows", "table"], "out")])}',
        catalog="""
        table:
          type: pandas.SQLTableDataset
          table_name: lookup
          credentials: database
        """,
    )
    database = root / "data" / secret_database
    database.parent.mkdir(parents=True)
    with sqlite3.connect(database) as connection:
        pd.DataFrame({"key": ["k0", "k1", "k2"], "label": ["zero", "one", "two"]}).to_sql(
            "lookup", connection, index=False
        )
    (root / "conf" / "local" / "credentials.yml").write_text(
        f"database:\n  con: sqlite:///{database.as_posix()}\n" + CREDENTIALS
    )
    return root, secret_database


def test_a_sql_table_without_freeze_is_refused_and_with_freeze_is_stored(make_project) -> None:
    import mlflow

    root, secret_database = sql_project(make_project)
    project = load_project(root)
    pipeline = project.pipelines["p"]
    with pytest.raises(PackagingError) as caught:
        log_pipeline_model(pipeline, project.catalog, "rows", sample_frame())
    message = str(caught.value)
    assert "table: is a SQLTableDataset whose data are not in files" in message
    assert "freeze=['table']" in message

    info = log_pipeline_model(pipeline, project.catalog, "rows", sample_frame(), freeze=["table"])
    model = mlflow.pyfunc.load_model(info.model_uri)
    frozen = read_manifest(model.model_config)["artifacts"]
    assert [(entry["dataset"], entry["frozen"]) for entry in frozen] == [("table", True)]
    assert_model_is_clean(
        info.model_uri,
        secrets=[secret_database, SECRET],
        allowed_pickles={entry["file"] for entry in frozen},
    )
    predicted = model.predict(sample_frame(6))
    assert list(predicted["label"]) == ["zero", "one", "two"] * 2


def test_a_parameter_value_that_cannot_be_stored_is_named(make_project) -> None:
    project = project_of(make_project, SCALE)
    project.catalog["params:factor"] = object()
    with pytest.raises(ParameterError) as caught:
        log_pipeline_model(project.pipelines["p"], project.catalog, "rows", sample_frame())
    message = str(caught.value)
    assert "parameter 'factor'" in message
    assert "neither in MLflow's parameter schema nor as JSON" in message
    assert "parameters.yml" in message


def test_a_node_function_defined_in_main_is_refused_with_the_fix(make_project) -> None:
    from kedro.pipeline import node, pipeline

    root = make_project(nodes=NODES, pipelines='return {"__default__": pipeline([])}')
    project = load_project(root)
    notebook: dict[str, Any] = {"__name__": "__main__"}
    exec("def double(frame):\n    return frame * 2\n", notebook)  # as a notebook cell defines it
    notebook_pipeline = pipeline([node(notebook["double"], "rows", "out", name="doubling")])
    with pytest.raises(PackagingError) as caught:
        log_pipeline_model(notebook_pipeline, project.catalog, "rows", sample_frame())
    message = str(caught.value)
    assert "node doubling: its function is defined in the notebook (__main__)" in message
    assert "move the function into a module of the project's package" in message


# ---- awkward names that must log and predict --------------------------------------------

AWKWARD_PIPELINES = """
from kedro.pipeline import Pipeline
scoring = pipeline(
    [
        node(nodes.scale, ["rows to score", "params:factor"], "scaled.rows", name="scale"),
        node(nodes.weigh, ["scaled.rows", "weights"], "scored rows", name="weigh"),
    ],
    namespace="ns",
)
return {"ns.scoring pipeline": scoring}
"""

AWKWARD_CATALOG = """
"ns.weights":
  type: pickle.PickleDataset
  filepath: data/06_models/ns weights.pkl
"""


def test_namespaced_names_with_dots_and_spaces_log_and_predict(make_project) -> None:
    import mlflow

    root = make_project(
        nodes=NODES,
        pipelines=AWKWARD_PIPELINES,
        catalog=AWKWARD_CATALOG,
        parameters="ns:\n  factor: 2.0\n",
        credentials=CREDENTIALS,
    )
    write_pickle(root / "data" / "06_models" / "ns weights.pkl", WEIGHTS)
    project = load_project(root)
    pipeline = project.pipelines["ns.scoring pipeline"]
    roles = inspect_pipeline(pipeline, project.catalog)
    assert roles.data_input == "ns.rows to score"
    assert list(roles.artifacts) == ["ns.weights"]
    assert roles.parameters == {"params:ns.factor": 2.0}

    info = log_pipeline_model(pipeline, project.catalog, None, sample_frame())
    assert_model_is_clean(info.model_uri, secrets=[SECRET], allowed_pickles={"ns weights.pkl"})
    model = mlflow.pyfunc.load_model(info.model_uri)
    frame = sample_frame(7)
    pd.testing.assert_frame_equal(
        model.predict(frame), kedro_output(project, pipeline, "ns.rows to score", frame)
    )
    tripled = model.predict(frame, params={"ns.factor": 3.0})
    assert list(tripled["weighted"]) == [value * 3.0 * 3.0 + 0.5 for value in range(7)]


def test_a_dataset_factory_pattern_works_as_an_artifact(make_project) -> None:
    import mlflow

    catalog = """
    "{name}_model":
      type: pickle.PickleDataset
      filepath: data/06_models/{name}_model.pkl
    """
    project = project_of(
        make_project, scale_then_weigh("linear_model"), catalog=catalog, parameters="factor: 1.0\n"
    )
    write_pickle(project.root / "data" / "06_models" / "linear_model.pkl", WEIGHTS)
    roles = inspect_pipeline(project.pipelines["p"], project.catalog, "rows")
    assert roles.artifacts["linear_model"].path.endswith("data/06_models/linear_model.pkl")

    info = log_pipeline_model(project.pipelines["p"], project.catalog, "rows", sample_frame())
    assert_model_is_clean(info.model_uri, allowed_pickles={"linear_model.pkl"})
    predicted = mlflow.pyfunc.load_model(info.model_uri).predict(sample_frame(4))
    assert list(predicted["weighted"]) == [value * 3.0 + 0.5 for value in range(4)]


# ---- faults in the middle of logging ----------------------------------------------------

FAULT_PIPELINES = """return {
    "refusing": pipeline([
        node(nodes.refuse_negatives, "rows", "checked", name="refuse_negatives"),
        node(nodes.scale, ["checked", "params:factor"], "scaled"),
        node(nodes.weigh, ["scaled", "weights"], "out"),
    ]),
    "jittery": pipeline([node(nodes.jitter, "rows", "out")]),
}"""


@pytest.fixture
def fault_project(make_project) -> LoadedProject:
    project = project_of(make_project, FAULT_PIPELINES, catalog=WEIGHTS_CATALOG,
                         credentials=CREDENTIALS)  # fmt: skip
    write_pickle(project.root / "data" / "06_models" / "weights.pkl", WEIGHTS)
    return project


def log_registered(project: LoadedProject, pipeline: str, model_name: str, frame=None, **options):
    """Log the pipeline on ``frame`` (the sample by default), registered as ``model_name``."""
    frame = sample_frame() if frame is None else frame
    return log_pipeline_model(
        project.pipelines[pipeline], project.catalog, "rows", frame,
        registered_model_name=model_name, **options,
    )  # fmt: skip


def assert_failed_and_left_nothing(project: LoadedProject, model_name: str) -> None:
    """The failed log left no active run, one FAILED run and no version of ``model_name``."""
    import mlflow

    assert mlflow.active_run() is None
    assert list(runs_of(project.package)["status"]) == ["FAILED"]
    assert_nothing_registered(model_name)


def assert_the_next_log_works(project: LoadedProject, model_name: str) -> None:
    """Logging ``refusing`` on the sample again registers version 1 of a clean model."""
    info = log_registered(project, "refusing", model_name)
    assert info.registered_model_version == 1
    assert_model_is_clean(info.model_uri, secrets=[SECRET], allowed_pickles={"weights.pkl"})


def assert_nothing_registered(name: str) -> None:
    import mlflow

    assert mlflow.MlflowClient().search_model_versions(f"name='{name}'") == []


def test_a_node_failing_on_the_sample_names_it_and_leaves_no_run(fault_project) -> None:
    import mlflow

    project = fault_project
    before = catalog_state(project.catalog)
    negative = sample_frame().assign(value=lambda frame: frame["value"] - 5)
    with pytest.raises(PipelineRunError) as caught:
        log_registered(project, "refusing", "refusing-model", negative)
    message = str(caught.value)
    assert message.startswith("node 'refuse_negatives' failed: ")
    assert "column 'value' has negative numbers" in message
    assert mlflow.active_run() is None
    assert runs_of(project.package).empty  # it failed before any run was started
    assert_nothing_registered("refusing-model")
    assert catalog_state(project.catalog) == before
    assert_the_next_log_works(project, "refusing-model")


def test_an_artifact_vanishing_while_logging_fails_the_run_and_the_next_log_works(
    fault_project,
) -> None:

    project = fault_project
    weights_file = project.root / "data" / "06_models" / "weights.pkl"
    before = catalog_state(project.catalog)

    def delete_weights_when_logging(step: str) -> None:
        if step == "logging":  # after the inputs were inspected, before their files are copied
            weights_file.unlink()

    with pytest.raises(PackagingError) as caught:
        log_registered(project, "refusing", "vanishing-model", progress=delete_weights_when_logging)
    message = str(caught.value)
    assert "weights" in message and "could not copy" in message
    assert_failed_and_left_nothing(project, "vanishing-model")

    write_pickle(weights_file, WEIGHTS)
    assert catalog_state(project.catalog) == before
    assert_the_next_log_works(project, "vanishing-model")
    assert sorted(runs_of(project.package)["status"]) == ["FAILED", "FINISHED"]


def test_an_interruption_after_the_model_is_written_fails_the_run(fault_project) -> None:

    project = fault_project
    before = catalog_state(project.catalog)

    def interrupt_when_verifying(step: str) -> None:
        if step == "verifying":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        log_registered(project, "refusing", "interrupted-model", progress=interrupt_when_verifying)
    assert_failed_and_left_nothing(project, "interrupted-model")
    assert catalog_state(project.catalog) == before


def test_a_pipeline_that_disagrees_with_itself_fails_parity_and_the_run(fault_project) -> None:

    project = fault_project
    with pytest.raises(ParityError, match="disagrees with the pipeline"):
        log_registered(project, "jittery", "jittery-model")
    assert_failed_and_left_nothing(project, "jittery-model")


# ---- files: nothing but the model's, wherever the names point ---------------------------

ESCAPING_CATALOG = """
"../x":
  type: pickle.PickleDataset
  filepath: data/06_models/up.pkl
"/tmp/x":
  type: pickle.PickleDataset
  filepath: data/06_models/absolute.pkl
"weights with spaces":
  type: pickle.PickleDataset
  filepath: data/06_models/spaced weights.pkl
"""

ESCAPING_PIPELINES = """return {"p": pipeline([
    node(nodes.scale, ["../rows", "params:factor"], "scaled"),
    node(nodes.weigh, ["scaled", "../x"], "once"),
    node(nodes.weigh, ["once", "/tmp/x"], "twice"),
    node(nodes.weigh, ["twice", "weights with spaces"], "/tmp/out"),
])}"""


def tree(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


def state(path: Path) -> set[tuple[str, int]]:
    """What is at ``path`` (outside the test's folders: another program may own it), each file
    and folder with its modification time: empty when nothing is there."""
    if not path.exists():
        return set()
    return {(str(item), item.stat().st_mtime_ns) for item in [path, *path.rglob("*")]}


def test_logging_writes_nothing_outside_the_model_whatever_the_names(
    make_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    import mlflow

    root = make_project(
        nodes=NODES,
        pipelines=ESCAPING_PIPELINES,
        catalog=ESCAPING_CATALOG,
        parameters="factor: 1.0\n",
        credentials=CREDENTIALS,
    )
    models = root / "data" / "06_models"
    for file_name in ("up.pkl", "absolute.pkl", "spaced weights.pkl"):
        write_pickle(models / file_name, {"w": 2.0, "b": 1.0})
    project = load_project(root)
    staging = tmp_path / "tmpdir"
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))
    before = tree(tmp_path)
    # the absolute dataset names point at /tmp, which the whole machine shares
    absolute_before = {name: state(Path(name)) for name in ("/tmp/x", "/tmp/out")}

    info = log_pipeline_model(project.pipelines["p"], project.catalog, "../rows", sample_frame())

    model = assert_model_is_clean(
        info.model_uri,
        secrets=[SECRET],
        allowed_pickles={"up.pkl", "absolute.pkl", "spaced weights.pkl"},
    )
    assert model.is_relative_to(root / "mlartifacts")
    new_files = tree(tmp_path) - before
    outside = {
        path for path in new_files
        if not Path(tmp_path / path).is_relative_to(root / "mlartifacts")
        and not Path(tmp_path / path).is_relative_to(staging)
    }  # fmt: skip
    assert outside == set()
    assert tree(staging) == set()  # the staging folder is gone
    assert {name: state(Path(name)) for name in absolute_before} == absolute_before
    assert not (root.parent / "x").exists() and not (root / "data" / "x").exists()
    predicted = mlflow.pyfunc.load_model(info.model_uri).predict(sample_frame(3))
    # each weigh node recomputes ``weighted`` from ``scaled``: the last artifact decides it
    assert list(predicted["weighted"]) == [value * 2.0 + 1.0 for value in range(3)]
