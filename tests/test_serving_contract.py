"""The serving contract: the columns the pipeline reads are required, the others optional, left
out of the input example and named in the summary; rows whose answer depends on the batch are
named and recorded; parameters are shown compactly, with notes on defaults that should not
travel. Real Kedro projects, a real sqlite store, models reloaded by MLflow."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.pipeline import node, pipeline
from projects import wide_frame
from sessions import load_project

from kedro_mlflow_magic import prepare_pipeline
from kedro_mlflow_magic.build.required_columns import (
    CHANGED,
    COLUMN_RUNS,
    FAILED,
    SAME,
    GroupSearch,
)
from kedro_mlflow_magic.runtime import read_manifest
from kedro_mlflow_magic.tracking.log_steps import model_content
from kedro_mlflow_magic.verify.batch_independence import fewer_rows_note

# --- a churn project whose sample holds the label ----------------------------------------------

LABEL_NODES = """\
import pandas as pd


def score(customers, weights):
    return pd.DataFrame({
        "customer_id": customers["customer_id"],
        "score": customers["tenure"] * weights["tenure"] + customers["charges"] * weights["charges"],
    })


def parse_dates(customers):
    # a shared preprocessing step: it parses the signup date, then drops it
    parsed = customers.assign(signup=pd.to_datetime(customers["signup_date"]))
    return parsed.drop(columns=["signup"])


def rolling_trend(sales):
    ordered = sales.sort_values("day")
    trend = ordered["amount"].rolling(3, min_periods=1).mean()
    return (trend * 1.1).sort_index().rename("forecast")
"""

LABEL_PIPELINES = """\
score = pipeline([node(nodes.score, ["customers", "params:weights"], "scores", name="score")])
parsed = pipeline([
    node(nodes.parse_dates, "customers", "parsed", name="parse_dates"),
    node(nodes.score, ["parsed", "params:weights"], "scores", name="score"),
])
trend = pipeline([node(nodes.rolling_trend, "sales", "forecast", name="rolling_trend")])
return {"score": score, "parsed": parsed, "trend": trend, "__default__": score}
"""

LABEL_PARAMETERS = """\
weights:
  tenure: 0.5
  charges: 0.25
training:
  epochs: 3
"""


def customers(rows: int = 30) -> pd.DataFrame:
    generator = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1),
            "tenure": generator.integers(1, 72, rows),
            "charges": generator.normal(60, 20, rows).round(2),
            "signup_date": pd.date_range("2024-01-01", periods=rows).strftime("%Y-%m-%d"),
            "churned": generator.integers(0, 2, rows),
        }
    )


def sales(rows: int = 30) -> pd.DataFrame:
    generator = np.random.default_rng(4)
    return pd.DataFrame({"day": np.arange(rows), "amount": generator.normal(500, 60, rows)})


@pytest.fixture(scope="module")
def label_project(tmp_path_factory: pytest.TempPathFactory):
    from projects import write_project

    root = tmp_path_factory.mktemp("label") / "label_project"
    write_project(root, LABEL_NODES, LABEL_PIPELINES, parameters=LABEL_PARAMETERS)
    return load_project(root)


def input_spec(signature, name: str):
    return {spec.name: spec for spec in signature.inputs.inputs}[name]


def input_example(model_uri: str) -> dict:
    folder = Path(mlflow.artifacts.download_artifacts(model_uri))
    return json.loads((folder / "input_example.json").read_text())


def test_a_label_the_pipeline_never_reads_is_optional_and_left_out_of_the_example(label_project):
    prepared = prepare_pipeline(
        label_project.pipelines["score"], label_project.catalog, "customers", customers()
    )
    use = prepared.contract.columns
    assert use.not_read == ("signup_date", "churned")
    assert use.needed == ("customer_id", "tenure", "charges")
    signature = prepared.signature()
    assert input_spec(signature, "churned").required is False
    assert input_spec(signature, "tenure").required is True

    logged = prepared.log(example_rows=3)
    assert "not read by the pipeline: signup_date, churned" in str(logged)
    assert "depends on the other rows" not in str(logged)  # rows are independent: nothing said
    example = input_example(logged.model_info.model_uri)
    assert example["columns"] == ["customer_id", "tenure", "charges"]
    manifest = read_manifest(mlflow.pyfunc.load_model(logged.model_info.model_uri).model_config)
    assert "batch_dependence" not in manifest

    model = mlflow.pyfunc.load_model(logged.model_info.model_uri)
    full = model.predict(customers())
    without_label = model.predict(customers().drop(columns=["churned", "signup_date"]))
    with_extra = model.predict(customers().assign(region="north"))
    pd.testing.assert_frame_equal(without_label, full)
    pd.testing.assert_frame_equal(with_extra, full)


def test_the_runs_without_a_column_log_nothing(label_project, caplog):
    prepared = prepare_pipeline(
        label_project.pipelines["score"], label_project.catalog, "customers", customers()
    )
    _ = prepared.sample_output
    with caplog.at_level(logging.DEBUG):
        use = prepared.contract.columns
    assert "tenure" in use.needed  # its run failed: Kedro's runner logged the node's error
    assert [
        record.getMessage() for record in caplog.records if record.name.startswith("kedro")
    ] == []


def test_a_column_read_but_never_changing_the_output_gets_a_hint_and_stays_required(
    label_project,
):
    prepared = prepare_pipeline(
        label_project.pipelines["parsed"], label_project.catalog, "customers", customers()
    )
    use = prepared.contract.columns
    assert use.values_unused == ("signup_date",)
    assert "signup_date" in use.needed and use.not_read == ("churned",)
    assert input_spec(prepared.signature(), "signup_date").required is True
    notes = prepared.contract.notes(model_content(prepared, None), None)
    assert any(note.startswith("hint: the pipeline fails without signup_date") for note in notes)


def test_a_rolling_window_is_named_in_the_summary_and_recorded_in_the_manifest(label_project):
    prepared = prepare_pipeline(
        label_project.pipelines["trend"], label_project.catalog, "sales", sales()
    )
    logged = prepared.log()
    text = str(logged)
    assert "a row's prediction depends on the other rows of the batch: row 15 alone gives" in text
    assert "in the batch of 30 rows" in text
    model = mlflow.pyfunc.load_model(logged.model_info.model_uri)
    entry = read_manifest(model.model_config)["batch_dependence"]
    assert entry["checked_rows"] == 30 and entry["example"].startswith("row 15 alone gives")
    # alone, row 15 is the model's answer too: the example is what a caller would meet
    alone = model.predict(sales().iloc[[15]])["forecast"].iloc[0]
    assert f"forecast={alone:.6g}" in entry["example"]

    note = fewer_rows_note(model.model_config, sales().head(3))
    assert note is not None and "on 30 rows" in note and "these 3 rows" in note
    assert fewer_rows_note(model.model_config, sales()) is None  # as many rows: nothing said


def test_only_parameters_the_nodes_read_are_in_the_signature(label_project):
    prepared = prepare_pipeline(
        label_project.pipelines["score"], label_project.catalog, "customers", customers()
    )
    names = [spec.name for spec in prepared.signature().params.params]
    assert names == ["weights.tenure", "weights.charges"]  # not training.epochs


# --- the search itself -------------------------------------------------------------------------


def searched(columns: list[str], needed: set[str], budget: int = COLUMN_RUNS) -> GroupSearch:
    """A search whose probe says what the pipeline would: taking away a needed column fails."""
    search = GroupSearch(lambda taken: FAILED if needed & set(taken) else SAME, budget)
    search.search(columns)
    return search


@pytest.mark.parametrize("needed_count", [0, 1, 3, 8])
def test_the_search_finds_the_needed_columns_of_a_thousand_within_its_bound(needed_count):
    columns = [f"c{index:04d}" for index in range(1000)]
    generator = np.random.default_rng(needed_count)
    needed = {str(name) for name in generator.choice(columns, needed_count, replace=False)}
    search = searched(columns, needed, budget=10_000)
    assert set(search.kept) == needed
    assert set(search.cleared) == set(columns) - needed
    # the bound the guide states: (2d + 1) * (ceil(log2 n) + 1)
    assert search.runs <= (2 * needed_count + 1) * (10 + 1)


def test_columns_that_matter_only_together_are_found():
    # the pipeline needs region or country (either will do): one of them must stay
    columns = ["region", "country", "tenure", "churned"]

    def probe(taken):
        if "tenure" in taken or {"region", "country"} <= set(taken):
            return FAILED
        return SAME

    search = GroupSearch(probe, COLUMN_RUNS)
    search.search(columns)
    assert set(search.kept) == {"country", "tenure"}
    assert set(search.cleared) == {"region", "churned"}


def test_a_spent_budget_leaves_the_rest_required_and_unchecked():
    columns = [f"c{index}" for index in range(100)]
    search = searched(columns, set(columns), budget=10)  # every column needed
    assert search.runs == 10 and len(search.kept) == 10
    assert search.unchecked == columns[10:]


def test_a_changed_output_and_a_failure_are_both_needed():
    search = GroupSearch(
        lambda taken: CHANGED if "a" in taken else FAILED if "b" in taken else SAME, 10
    )
    search.search(["a", "b", "c"])
    assert search.kept == {"a": CHANGED, "b": FAILED} and search.cleared == ["c"]


# --- wide frames, tensors, polars --------------------------------------------------------------


def three_columns(frame):
    return frame[["count_0003", "score_0502", "flag_0998"]].sum(axis=1).to_frame("total")


def test_a_thousand_column_frame_costs_at_most_the_run_budget():
    wide = pipeline([node(three_columns, "wide_in", "total", name="total")])
    prepared = prepare_pipeline(wide, DataCatalog(), "wide_in", wide_frame(1000))
    use = prepared.contract.columns
    assert use.needed == ("count_0003", "score_0502", "flag_0998")
    assert len(use.not_read) == 997 and use.unchecked == ()
    assert use.runs <= COLUMN_RUNS
    inputs = prepared.signature().inputs
    assert len(inputs.required_input_names()) == 3
    assert len(inputs.optional_input_names()) == 997


def doubled(array):
    return array * 2


def test_a_tensor_input_keeps_its_shape():
    tensors = pipeline([node(doubled, "images", "doubled", name="double")])
    prepared = prepare_pipeline(tensors, DataCatalog(), "images", np.ones((4, 3, 2)))
    assert prepared.contract.columns is None
    assert prepared.signature().inputs.is_tensor_spec()


def polars_score(frame):
    import polars as pl

    return frame.select((pl.col("tenure") * 2).alias("score"))


def test_a_polars_data_input_gets_the_same_analysis():
    pl = pytest.importorskip("polars")
    sample = pl.DataFrame({"tenure": [1, 5, 9], "churned": [0, 1, 0]})
    scoring = pipeline([node(polars_score, "customers", "scores", name="score")])
    prepared = prepare_pipeline(scoring, DataCatalog(), "customers", sample)
    assert prepared.data_kind == "polars"
    assert prepared.contract.columns.not_read == ("churned",)
    assert input_spec(prepared.signature(), "churned").required is False
