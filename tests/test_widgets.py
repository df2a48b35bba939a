"""The widgets without a browser: the roles view's picture and bundle, the core edit functions,
and the signature editor driven by setting widget values and clicking its button."""

from __future__ import annotations

import re

import ipywidgets
import mlflow
import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from kedro.io import DataCatalog
from mlflow.models import infer_signature
from projects import row_total, wide_frame

from kedro_mlflow_magic import prepare_pipeline
from kedro_mlflow_magic.build.signature_edits import (
    SignatureEditError,
    SignatureEdits,
    column_problems,
    conform_sample,
    conform_to_signature,
    default_problems,
    edit_signature,
    parameter_rows,
)
from kedro_mlflow_magic.errors import ParameterError
from kedro_mlflow_magic.inspect.roles import inspect_pipeline
from kedro_mlflow_magic.widgets import SignatureEditor, pipeline_mermaid, roles_view
from kedro_mlflow_magic.widgets.signature_editor import PAGE_SIZE

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def small_signature():
    frame = pd.DataFrame({"age": [30, 40], "city": ["Oslo", "Rome"], "score": [0.5, 1.5]})
    return infer_signature(
        frame,
        params={"threshold": 0.5, "label": "yes", "sizes": [1, 2], "verbose": False},
    )


# --- core edit functions, no widgets -------------------------------------------------------


def test_edit_signature_applies_column_type_required_flag_and_defaults(small_signature):
    edited = edit_signature(
        small_signature,
        SignatureEdits(
            column_types={"age": "double"},
            required={"city": False},
            parameter_defaults={"threshold": "0.8", "label": "0.8", "sizes": "[3, 4, 5]"},
        ),
    )
    columns = {spec.name: spec for spec in edited.inputs.inputs}
    assert columns["age"].type.name == "double"
    assert columns["city"].required is False and columns["score"].required is True
    defaults = {spec.name: spec.default for spec in edited.params.params}
    assert defaults == {"threshold": 0.8, "label": "0.8", "sizes": [3, 4, 5], "verbose": False}
    assert edited.outputs == small_signature.outputs
    # the inferred signature is untouched
    assert {spec.name: spec.default for spec in small_signature.params.params}["threshold"] == 0.5


@pytest.mark.parametrize(
    ("parameter", "text", "expected"),
    [
        ("threshold", "high", "is not a double"),
        ("threshold", "true", "is not a double"),
        ("threshold", "[1]", "is not a double"),
        ("sizes", "3", "is not a long[]"),
        ("sizes", "[1, 'a']", "is not a long[]"),
        ("verbose", "maybe", "is not a boolean"),
    ],
)
def test_a_default_that_does_not_fit_its_type_is_named(small_signature, parameter, text, expected):
    edits = SignatureEdits(parameter_defaults={parameter: text})
    with pytest.raises(ParameterError, match=re.escape(expected)) as raised:
        edit_signature(small_signature, edits)
    assert f"parameter '{parameter}'" in str(raised.value)
    assert parameter in default_problems(small_signature, edits)


def test_edits_of_unknown_columns_parameters_or_types_name_them(small_signature):
    with pytest.raises(SignatureEditError, match=r"'height' is not an input column.*age, city"):
        edit_signature(small_signature, SignatureEdits(column_types={"height": "double"}))
    with pytest.raises(ParameterError, match=r"'alpha' is not a parameter.*threshold"):
        edit_signature(small_signature, SignatureEdits(parameter_defaults={"alpha": "1"}))
    with pytest.raises(SignatureEditError, match="column 'age': 'decimal' is not an MLflow type"):
        edit_signature(small_signature, SignatureEdits(column_types={"age": "decimal"}))


def test_conform_sample_converts_edited_columns_and_refuses_lossy_ones():
    frame = pd.DataFrame({"age": [30, 40], "city": ["Oslo", "Rome"], "score": [0.5, 1.5]})
    converted = conform_sample(frame, {"age": "double", "score": "string"})
    assert converted["age"].dtype == np.float64
    assert list(converted["score"]) == ["0.5", "1.5"]
    assert frame["age"].dtype == np.int64  # the caller's frame is left as it was
    problems = column_problems(frame, {"city": "double", "score": "long", "age": "integer"})
    assert set(problems) == {"city", "score"}
    assert "column 'score'" in problems["score"] and "would change" in problems["score"]
    signature = infer_signature(converted)
    assert conform_to_signature(frame, signature)["age"].dtype == np.float64


def test_parameter_rows_show_defaults_as_editable_text(small_signature):
    rows = {row.name: (row.type, row.default_text) for row in parameter_rows(small_signature)}
    assert rows == {
        "threshold": ("double", "0.5"),
        "label": ("string", "yes"),
        "sizes": ("long[]", "[1, 2]"),
        "verbose": ("boolean", "false"),
    }


# --- the roles view ------------------------------------------------------------------------


def test_mermaid_picture_colours_free_inputs_by_role(demo):
    pipeline = demo.pipelines["inference"]
    inputs = inspect_pipeline(pipeline, demo.catalog, "customers_to_score")
    text = pipeline_mermaid(pipeline, inputs)
    assert text.startswith("flowchart TB")  # two nodes in a row: top-down, to fit the cell
    ids = {
        line.split("(")[0].strip(): line.split('"')[1]
        for line in text.splitlines()
        if '(["' in line
    }
    by_name = {name: identifier for identifier, name in ids.items()}
    assert set(by_name) == {
        "customers_to_score", "encoder", "classifier", "params:threshold", "params:scoring",
        "features", "predictions",
    }  # fmt: skip
    assert f"class {by_name['customers_to_score']} data_input" in text
    assert f"class {by_name['encoder']} artifact" in text
    assert f"class {by_name['classifier']} artifact" in text
    assert f"class {by_name['params:threshold']} parameter" in text
    assert f"class {by_name['predictions']} output" in text
    assert f"{by_name['features']} --> node_" in text
    assert "class " + by_name["features"] + " " not in text  # intermediate: not coloured


def test_mermaid_picture_marks_problems(demo):
    pipeline = demo.pipelines["inference"]
    inputs = inspect_pipeline(pipeline, DataCatalog(), "customers_to_score")
    text = pipeline_mermaid(pipeline, inputs)
    problem_lines = [line for line in text.splitlines() if line.endswith(" problem")]
    # encoder and classifier are not in this catalog, the parameters are not set
    assert len([line for line in problem_lines if line.strip().startswith("class ")]) == 4


def test_roles_view_shows_the_picture_above_the_table_with_fallbacks(demo):
    pipeline = demo.pipelines["inference"]
    inputs = inspect_pipeline(pipeline, DataCatalog(), "customers_to_score")
    view = roles_view(pipeline, inputs)
    assert isinstance(view, ipywidgets.VBox)  # the picture takes the cell's width, on top
    picture, table = view.children
    assert "kedro-mlflow-picture" in picture._dom_classes
    # "auto": the box's width less the child's margins (no sideways scroll of the box)
    assert picture.layout.width == "auto" and picture.layout.overflow == "auto"
    assert picture.layout.max_height == "640px"
    assert "max-width:none" in table.value  # a wide picture scrolls rather than shrinks
    data = picture.outputs[0]["data"]
    assert data["text/markdown"].startswith("```mermaid\nflowchart TB")
    assert "classDef problem" in data["text/markdown"]
    assert "Fix:" in table.value and "not in the catalog" in table.value
    assert "kedro-mlflow-legend" in table.value
    bundle = view._repr_mimebundle_()
    assert WIDGET_VIEW in bundle  # JupyterLab: the live view
    assert bundle["text/html"] == inputs._repr_html_()  # elsewhere: the table
    assert "encoder" in bundle["text/plain"] and "problem" in bundle["text/plain"]


# --- the signature editor ------------------------------------------------------------------


def fields_by_name(fields, attribute):
    return {getattr(field, attribute): field for field in fields}


@pytest.fixture
def editor(demo, demo_sample):
    prepared = prepare_pipeline(
        demo.pipelines["inference"],
        demo.catalog,
        "customers_to_score",
        demo_sample,
        project_path=demo.root,
    )
    return SignatureEditor(prepared)


def test_editor_shows_inferred_columns_output_parameters_and_example(editor, demo_sample):
    columns = fields_by_name(editor._columns, "column")
    assert list(columns) == list(demo_sample.columns)
    assert columns["plan"].type.value == "string" and columns["plan"].required.value is True
    assert columns["support_calls"].type.value == "long"
    parameters = fields_by_name(editor._parameters, "parameter")
    assert parameters["threshold"].default.value == "0.5"
    assert parameters["scoring.labels.positive"].default.value == "churn"
    assert parameters["threshold"].default.continuous_update is False
    texts = " ".join(child.value for child in editor.children if hasattr(child, "value"))
    assert "churn_probability" in texts  # the output schema
    assert "<table" in texts and str(demo_sample["customer_id"].iloc[0]) in texts  # the example
    assert editor.signature == editor.inferred  # no edit yet


def test_editor_logs_the_edited_signature_and_the_model_uses_the_edited_defaults(
    editor, demo_sample
):
    columns = fields_by_name(editor._columns, "column")
    parameters = fields_by_name(editor._parameters, "parameter")
    columns["support_calls"].type.value = "double"
    columns["plan"].required.value = False
    parameters["threshold"].default.value = "0.2"
    parameters["scoring.labels.positive"].default.value = "leaves"
    assert editor.problems == {}

    editor._log_button.click()

    assert editor.error is None
    info = editor.model_info
    assert info is not None and info.model_uri in editor._status.value
    assert editor._progress.value == editor._progress.max
    logged = mlflow.models.get_model_info(info.model_uri).signature
    inputs = {spec.name: spec for spec in logged.inputs.inputs}
    assert inputs["support_calls"].type.name == "double"
    assert inputs["plan"].required is False
    defaults = {spec.name: spec.default for spec in logged.params.params}
    assert defaults["threshold"] == 0.2
    assert defaults["scoring.labels.positive"] == "leaves"

    model = mlflow.pyfunc.load_model(info.model_uri)
    frame = demo_sample.astype({"support_calls": "float64"})
    predictions = model.predict(frame)  # no params: the edited defaults apply
    expected = np.where(predictions["churn_probability"] >= 0.2, "leaves", "stay")
    assert (predictions["label"] == "leaves").any()
    assert list(predictions["label"]) == list(expected)


@pytest.fixture(scope="module")
def wide_prepared():
    """A one-node pipeline whose data input is a frame of 1000 columns."""
    from kedro.pipeline import node, pipeline

    wide = pipeline([node(row_total, "wide_in", "total", name="total")])
    return prepare_pipeline(wide, DataCatalog(), "wide_in", wide_frame(1000))


def page_columns(editor):
    return [field.column for field in editor._columns]


def test_a_wide_editor_shows_a_page_of_columns_and_turns_pages(wide_prepared):
    editor = SignatureEditor(wide_prepared)
    assert len(editor._column_fields) == PAGE_SIZE  # one page of fields, whatever the width
    assert page_columns(editor) == list(wide_prepared.sample.columns[:PAGE_SIZE])
    assert editor._page_label.value == "columns 1-20 of 1000, page 1 of 50"
    assert editor._previous_page.disabled and not editor._next_page.disabled
    editor._next_page.click()
    assert page_columns(editor) == list(wide_prepared.sample.columns[20:40])
    assert editor._page_label.value == "columns 21-40 of 1000, page 2 of 50"
    # the example shows its first columns, not a thousand
    texts = " ".join(child.value for child in editor.children if hasattr(child, "value"))
    assert "count_0501" not in texts and "count_0000" in texts and "..." in texts


def test_a_wide_editor_filters_by_name_and_type(wide_prepared):
    editor = SignatureEditor(wide_prepared)
    editor._name_filter.value = "SCORE_00"  # case aside
    assert page_columns(editor) == [f"score_{index:04d}" for index in range(1, 100, 3)][:20]
    assert editor._page_label.value == "columns 1-20 of 33 (of 1000), page 1 of 2"
    editor._next_page.click()
    editor._next_page.click()  # no page 3: stays on the last
    assert len(editor._columns) == 13 and editor._next_page.disabled
    editor._name_filter.value = ""
    editor._type_filter.value = "integer or long"
    assert len(editor._filtered) == 334 and all(
        name.startswith("count_") for name in editor._filtered
    )
    editor._name_filter.value = "no such column"
    assert editor._columns == []
    assert editor._page_label.value == "columns none of 0 (of 1000), page 1 of 1"


def test_bulk_edits_change_the_filtered_columns_in_the_same_signature(wide_prepared):
    editor = SignatureEditor(wide_prepared)
    editor._type_filter.value = "integer or long"
    editor._bulk_type.value = "double"
    editor._apply_type.click()  # all integer columns -> double
    assert len(editor._filtered) == 334  # the filter still shows the columns it changed
    assert {field.type.value for field in editor._columns} == {"double"}
    editor._type_filter.value = "any type"
    editor._name_filter.value = "flag_"
    editor._make_optional.click()
    editor._name_filter.value = ""
    editor._next_page.click()
    editor._columns[0].type.value = "long"  # one field edited by hand on page 2: flag_0020
    editor._previous_page.click()
    editor._next_page.click()
    assert editor._columns[0].column == "flag_0020" and editor._columns[0].type.value == "long"

    specs = {spec.name: spec for spec in editor.signature.inputs.inputs}
    assert len(specs) == 1000
    assert {specs[f"count_{index:04d}"].type.name for index in range(0, 1000, 3)} == {"double"}
    assert {specs[f"flag_{index:04d}"].required for index in range(2, 1000, 3)} == {False}
    assert specs["flag_0020"].type.name == "long" and specs["flag_0023"].type.name == "boolean"
    assert specs["count_0000"].required is True
    assert editor.problems == {}
    edits = editor.edits
    assert len(edits.column_types) == 335 and len(edits.required) == 333


def test_a_bulk_edit_the_sample_does_not_fit_shows_its_messages_on_every_page(wide_prepared):
    editor = SignatureEditor(wide_prepared)
    editor._type_filter.value = "double"  # the score columns: 0.37... is no long
    editor._bulk_type.value = "long"
    editor._apply_type.click()
    assert len(editor.problems) == 333
    assert all("cannot be read as long" in field.message.value for field in editor._columns)
    editor._next_page.click()
    assert all("cannot be read as long" in field.message.value for field in editor._columns)
    with pytest.raises(SignatureEditError, match="column 'score_0001'"):
        conform_sample(wide_prepared.sample, editor.edits.column_types)


def test_editor_shows_a_message_beside_a_field_that_does_not_fit(editor):
    parameters = fields_by_name(editor._parameters, "parameter")
    columns = fields_by_name(editor._columns, "column")
    parameters["threshold"].default.value = "high"
    columns["plan"].type.value = "double"

    assert "parameter &#x27;threshold&#x27;" in parameters["threshold"].message.value
    assert "is not a double" in parameters["threshold"].message.value
    assert "cannot be read as double" in columns["plan"].message.value
    assert parameters["scoring.decimals"].message.value == ""
    with pytest.raises(ParameterError, match="parameter 'threshold'"):
        _ = editor.signature

    editor._log_button.click()
    assert editor.model_info is None
    assert "threshold" in editor.error and "not logged" in editor._status.value

    parameters["threshold"].default.value = "0.7"
    columns["plan"].type.value = "string"
    assert parameters["threshold"].message.value == ""
    assert columns["plan"].message.value == ""
    assert {spec.name: spec.default for spec in editor.signature.params.params}["threshold"] == 0.7


# --- the magic -----------------------------------------------------------------------------


@pytest.fixture
def shell(ipython_shell, demo, demo_sample):
    """A real IPython shell holding what %reload_kedro would have loaded, and the sample."""
    from IPython.core.magic import needs_local_scope

    from kedro_mlflow_magic.magics.signature import kedro_signature

    ipython = ipython_shell
    ipython.register_magic_function(needs_local_scope(kedro_signature), "line", "kedro_signature")
    names = {
        "session": demo.session,
        "context": demo.session.load_context(),
        "catalog": demo.catalog,
        "pipelines": demo.pipelines,
        "sample": demo_sample,
    }
    ipython.user_ns.update(names)
    yield ipython
    for name in names:
        ipython.user_ns.pop(name, None)


def test_magic_returns_the_editor(shell):
    editor = shell.run_line_magic(
        "kedro_signature", "inference --input customers_to_score --sample sample"
    )
    assert isinstance(editor, SignatureEditor)
    assert editor.prepared.roles.data_input == "customers_to_score"
    assert editor._shown_in == shell.execution_count  # shown once, not again as the result


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("inference --input nope --sample sample", "'nope' is not a free input"),
        ("inference --input customers_to_score --sample missing_name", "--sample 'missing_name'"),
        ("trainng --input customers_to_score --sample sample", "unknown pipeline 'trainng'"),
    ],
)
def test_magic_mistakes_are_one_line_usage_errors(shell, line, message):
    with pytest.raises(UsageError, match=message) as raised:
        shell.run_line_magic("kedro_signature", line)
    assert "\n" not in str(raised.value)


def test_the_magics_show_the_editor_as_a_widget_not_as_text(editor):
    from kedro_mlflow_magic.magics.common import bundle

    shown = bundle(editor)
    assert shown["application/vnd.jupyter.widget-view+json"]["model_id"] == editor.model_id
    assert shown["text/plain"]
