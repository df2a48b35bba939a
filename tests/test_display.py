"""``display.py``: the text and HTML forms of every result, checked on real objects."""

from __future__ import annotations

import pandas as pd

from kedro_mlflow_magic import inspect_pipeline
from kedro_mlflow_magic.display.checks import ComparisonView
from kedro_mlflow_magic.display.log_summary import LoggingProgress
from kedro_mlflow_magic.inspect.mermaid import pipeline_mermaid
from kedro_mlflow_magic.verify.parity import compare_results


def test_the_roles_table_text_and_html_say_the_same(demo):
    roles = inspect_pipeline(demo.pipelines["inference"], demo.catalog)
    text, html = str(roles), roles._repr_html_()
    assert repr(roles) == text
    for name in ("customers_to_score", "encoder", "classifier", "params:threshold"):
        assert name in text and name in html
    assert text.splitlines()[-1] == "ready to log"
    assert "artifact" in html and "data input" in html


def test_the_picture_colours_each_input_by_its_role(demo):
    roles = inspect_pipeline(demo.pipelines["inference"], demo.catalog)
    mermaid = pipeline_mermaid(demo.pipelines["inference"], roles)
    assert mermaid.startswith("flowchart TB")  # two nodes in a row: top-down
    ids = {
        line.split('(["')[1].rstrip('"])'): line.strip().split("(")[0]
        for line in mermaid.splitlines()
        if '(["' in line
    }
    assert f"class {ids['customers_to_score']} data_input" in mermaid
    assert f"class {ids['encoder']} artifact" in mermaid
    assert f"class {ids['params:threshold']} parameter" in mermaid
    assert f"class {ids['predictions']} output" in mermaid


def test_progress_marks_done_current_failed_and_pending_steps():
    progress = LoggingProgress("model", registering=False)
    assert [step for _, step in progress.marks()][-1] == "verifying"
    progress.advance("logging")
    assert [mark for mark, _ in progress.marks()] == ["✓", "✓", "…", "·"]
    progress.fail()
    assert [mark for mark, _ in progress.marks()] == ["✓", "✓", "✗", "·"]
    assert "✗ logging" in progress._repr_html_()
    progress = LoggingProgress("model", registering=True)
    progress.advance("done")
    assert all(mark == "✓" for mark, _ in progress.marks()) and len(progress.marks()) == 5


def test_a_disagreement_shows_the_first_rows_that_differ():
    model = pd.DataFrame({"p": [0.1, 0.2, 0.3]})
    pipeline = pd.DataFrame({"p": [0.1, 0.25, 0.3]})
    view = ComparisonView(compare_results(model, pipeline))
    assert str(view).startswith("model and pipeline DISAGREE: 1 of 3 rows differ")
    assert "first rows that differ" in str(view) and "0.25" in str(view)
    assert "DISAGREE" in view._repr_html_()
    assert str(ComparisonView(compare_results(model, model))) == (
        "model and pipeline agree: all 3 rows agree"
    )
