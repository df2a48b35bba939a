"""The signature editor (SPEC 6, ``%kedro_signature``): the inferred signature as editable
fields, each edit checked by the core (``signature_edits``) with its message beside the field,
and a "Log model" button that logs with the edited signature.

The widgets hold only what a person typed; ``.edits``, ``.signature`` and the messages are
computed from those values by the core functions each time.
"""

from __future__ import annotations

from functools import partial
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets
import pandas as pd

from kedro_mlflow_magic.build.signature_edits import (
    ANY_TYPE,
    SignatureEdits,
    column_problems,
    column_rows,
    column_types,
    default_problems,
    edit_signature,
    matching_columns,
    parameter_rows,
    tensor_text,
    type_filters,
)
from kedro_mlflow_magic.progress import DONE, steps_for

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

    from kedro_mlflow_magic.prepared import LoggedModel, PreparedPipeline

LOG_STEPS = [*steps_for(registering=False), DONE]
PAGE_SIZE = 20  # column fields on a page
EXAMPLE_COLUMNS = 20  # columns of the input example shown
NAME_WIDTH = "220px"
ERROR_COLOUR = "#c92a2a"


def message_html(text: str | None) -> str:
    """A validation message beside a field (empty when the field is fine)."""
    return f'<span style="color:{ERROR_COLOUR}">{escape(text)}</span>' if text else ""


def heading(text: str) -> ipywidgets.HTML:
    return ipywidgets.HTML(f"<b>{escape(text)}</b>")


def name_label(text: str) -> ipywidgets.HTML:
    return ipywidgets.HTML(f"<code>{escape(text)}</code>", layout={"width": NAME_WIDTH})


class ColumnField(ipywidgets.HBox):
    """One input column: its name, MLflow type (Dropdown), required flag and message. The
    editor shows a page of these and points them at other columns as the page turns."""

    def __init__(self, name: str, type_name: str, required: bool) -> None:
        self.column = name
        self.name = name_label(name)
        self.type = ipywidgets.Dropdown(
            options=column_types(), value=type_name, layout={"width": "120px"}
        )
        self.required = ipywidgets.Checkbox(value=required, description="required", indent=False)
        self.message = ipywidgets.HTML()
        super().__init__([self.name, self.type, self.required, self.message])
        self.add_class("kedro-mlflow-column")

    def show(self, name: str, type_name: str, required: bool, message: str) -> None:
        """Show the column ``name`` in this field (the caller holds back the observers)."""
        if name != self.column:
            self.column = name
            self.name.value = f"<code>{escape(name)}</code>"
        self.type.value = type_name
        self.required.value = required
        self.message.value = message
        self.layout.display = None


class ParameterField(ipywidgets.HBox):
    """One parameter: its name, type, default (Text, sent on Enter or blur) and message."""

    def __init__(self, name: str, type_name: str, default_text: str) -> None:
        self.parameter = name
        self.default = ipywidgets.Text(
            value=default_text, continuous_update=False, layout={"width": "200px"}
        )
        self.message = ipywidgets.HTML()
        kind = ipywidgets.HTML(f"<i>{escape(type_name)}</i>", layout={"width": "90px"})
        super().__init__([name_label(name), kind, self.default, self.message])
        self.add_class("kedro-mlflow-parameter")


class SignatureEditor(ipywidgets.VBox):
    """The inferred signature of a pipeline's model, editable, with a "Log model" button.

    ``.signature`` is the edited ``ModelSignature`` at any time; after a click on the button,
    ``.model_info`` is the logged model's ``ModelInfo`` (or ``.error`` says why it failed).

    Columns are shown a page at a time (``PAGE_SIZE``), filtered by name and type; the type
    and required flag of every column live in ``column_types`` and ``column_required`` (what
    a person chose, the inferred values until then), so that a frame of 1000 columns builds
    one page of fields, and a bulk edit changes the filtered columns at once.
    """

    shown_in: int | None = None  # the cell execution in which a magic displayed the editor

    def __init__(
        self, prepared: PreparedPipeline, *, name: str = "model", example_rows: int = 5
    ) -> None:
        self.prepared = prepared
        self.inferred = prepared.signature()
        self.name, self.example_rows = name, example_rows
        self.logged: LoggedModel | None = None
        self.error: str | None = None
        self.holding = False  # True while the editor itself sets the fields' values

        rows = column_rows(self.inferred.inputs)
        self.inferred_columns = {row.name: row for row in rows}
        self.column_types = {row.name: row.type for row in rows}
        self.column_required = {row.name: row.required for row in rows}
        self.column_messages: dict[str, str] = {}
        self.page = 0
        self.name_filter = ipywidgets.Text(
            placeholder="filter by name", continuous_update=False, layout={"width": "220px"}
        )
        self.type_filter = ipywidgets.Dropdown(
            options=type_filters(), value=ANY_TYPE, layout={"width": "150px"}
        )
        self.previous_page = ipywidgets.Button(icon="chevron-left", layout={"width": "36px"})
        self.next_page = ipywidgets.Button(icon="chevron-right", layout={"width": "36px"})
        self.page_label = ipywidgets.HTML()
        self.bulk_type = ipywidgets.Dropdown(
            options=column_types(), value="double", layout={"width": "120px"}
        )
        self.apply_type = ipywidgets.Button(description="set type")
        self.make_required = ipywidgets.Button(description="all required")
        self.make_optional = ipywidgets.Button(description="none required")
        self.column_fields = [
            ColumnField(row.name, row.type, row.required) for row in rows[:PAGE_SIZE]
        ]
        self.parameters = [
            ParameterField(row.name, row.type, row.default_text)
            for row in parameter_rows(self.inferred)
        ]
        for field in self.column_fields:
            field.type.observe(partial(self.typed, field), names="value")
            field.required.observe(partial(self.ticked, field), names="value")
        for field in self.parameters:
            field.default.observe(self.check, names="value")
        self.name_filter.observe(self.refilter, names="value")
        self.type_filter.observe(self.refilter, names="value")
        self.previous_page.on_click(lambda button: self.turn(-1))
        self.next_page.on_click(lambda button: self.turn(1))
        self.apply_type.on_click(lambda button: self.set_types(self.bulk_type.value))
        self.make_required.on_click(lambda button: self.set_required(True))
        self.make_optional.on_click(lambda button: self.set_required(False))
        self.log_button = ipywidgets.Button(
            description="Log model", button_style="primary", icon="upload"
        )
        self.log_button.on_click(self.log_model)
        self.progress = ipywidgets.IntProgress(value=0, min=0, max=len(LOG_STEPS))
        self.status = ipywidgets.HTML()
        self.status.add_class("kedro-mlflow-status")
        self.filtered = list(self.column_types)
        self.show_page()
        super().__init__(self.sections())
        self.add_class("kedro-mlflow-signature-editor")

    @property
    def columns(self) -> list[ColumnField]:
        """The column fields on the page shown now."""
        return [field for field in self.column_fields if field.layout.display != "none"]

    def column_tools(self) -> list[ipywidgets.Widget]:
        """The filter, the page controls and the bulk edits: only for more columns than a
        page holds, or a filter to use."""
        if len(self.column_types) <= PAGE_SIZE:
            return []
        filters = ipywidgets.HBox(
            [self.name_filter, self.type_filter, self.previous_page, self.next_page,
             self.page_label]
        )  # fmt: skip
        filters.add_class("kedro-mlflow-column-filter")
        bulk = ipywidgets.HBox(
            [ipywidgets.HTML("the filtered columns:"), self.bulk_type, self.apply_type,
             self.make_required, self.make_optional]
        )  # fmt: skip
        bulk.add_class("kedro-mlflow-bulk-edit")
        return [filters, bulk]

    def _ipython_display_(self) -> None:
        """Display the editor, except a second time as the result of the cell whose magic
        already showed it (``%kedro_signature`` both shows and returns it)."""
        from IPython.core.getipython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        if shell is not None and self.shown_in == shell.execution_count:
            return
        display(self._repr_mimebundle_(), raw=True)

    def sections(self) -> list[ipywidgets.Widget]:
        roles = self.prepared.roles
        outputs = "".join(
            f"<li><code>{escape(row.name)}</code>: {escape(row.type)}</li>"
            for row in column_rows(self.inferred.outputs)
        )
        sample = self.prepared.sample
        if isinstance(sample, pd.DataFrame):
            example = sample.head(self.example_rows).to_html(
                index=False, border=0, max_cols=EXAMPLE_COLUMNS
            )
        else:  # a numpy array (a tensor input)
            example = f"<pre>{escape(repr(sample[: self.example_rows]))}</pre>"
        tensor_input = tensor_text(self.inferred.inputs)
        inputs: list[ipywidgets.Widget] = (
            [heading(f"Input tensor (data input '{roles.data_input}')"),
             ipywidgets.HTML(f"<ul><li>{escape(tensor_input)}</li></ul>")]
            if tensor_input is not None
            else [heading(f"Input columns (data input '{roles.data_input}')"),
                  *self.column_tools(), *self.column_fields]
        )  # fmt: skip
        tensor_output = tensor_text(self.inferred.outputs)
        if tensor_output is not None:
            outputs = f"<li>tensor: {escape(tensor_output)}</li>"
        return [
            *inputs,
            heading(f"Output ('{self.prepared.output}')"),
            ipywidgets.HTML(f"<ul>{outputs or '<li>not column-based</li>'}</ul>"),
            heading("Parameters (default used when predict gets no params)"),
            *(self.parameters or [ipywidgets.HTML("<i>none</i>")]),
            heading(f"Input example (first {self.example_rows} rows of the sample)"),
            ipywidgets.HTML(example),
            ipywidgets.HBox([self.log_button, self.progress, self.status]),
        ]

    @property
    def edits(self) -> SignatureEdits:
        """What differs from the inferred signature, as plain values."""
        inferred_defaults = {row.name: row.default_text for row in parameter_rows(self.inferred)}
        return SignatureEdits(
            column_types={
                column: chosen
                for column, chosen in self.column_types.items()
                if chosen != self.inferred_columns[column].type
            },
            required={
                column: required
                for column, required in self.column_required.items()
                if required != self.inferred_columns[column].required
            },
            parameter_defaults={
                field.parameter: field.default.value
                for field in self.parameters
                if field.default.value != inferred_defaults[field.parameter]
            },
        )

    # --- the columns: a page of fields over the filtered columns ---

    def show_page(self) -> None:
        """Point the page's fields at the filtered columns of the current page."""
        pages = max(1, -(-len(self.filtered) // PAGE_SIZE))
        self.page = min(max(self.page, 0), pages - 1)
        start = self.page * PAGE_SIZE
        shown = self.filtered[start : start + PAGE_SIZE]
        self.holding = True
        try:
            for field, column in zip(self.column_fields, shown, strict=False):
                field.show(
                    column,
                    self.column_types[column],
                    self.column_required[column],
                    self.column_messages.get(column, ""),
                )
            for field in self.column_fields[len(shown) :]:
                field.layout.display = "none"
        finally:
            self.holding = False
        self.previous_page.disabled = self.page == 0
        self.next_page.disabled = self.page >= pages - 1
        total = len(self.column_types)
        span = f"{start + 1}-{start + len(shown)}" if shown else "none"
        self.page_label.value = (
            f"columns {span} of {len(self.filtered)}"
            + (f" (of {total})" if len(self.filtered) != total else "")
            + f", page {self.page + 1} of {pages}"
        )

    def refilter(self, change: Any = None) -> None:
        """Apply the name and type filters, from the first page."""
        self.filtered = matching_columns(
            self.column_types, self.name_filter.value, self.type_filter.value
        )
        self.page = 0
        self.show_page()

    def turn(self, pages: int) -> None:
        self.page += pages
        self.show_page()

    def typed(self, field: ColumnField, change: Any) -> None:
        """A person chose a column's type in its field."""
        if not self.holding:
            self.column_types[field.column] = change["new"]
            self.check()

    def ticked(self, field: ColumnField, change: Any) -> None:
        """A person ticked (or cleared) a column's required flag."""
        if not self.holding:
            self.column_required[field.column] = change["new"]

    def set_types(self, type_name: str) -> None:
        """Give every filtered column the type ``type_name`` (e.g. all integer columns ->
        double); the filter still shows the same columns."""
        for column in self.filtered:
            self.column_types[column] = type_name
        self.check()

    def set_required(self, required: bool) -> None:
        """Make every filtered column required (or not)."""
        for column in self.filtered:
            self.column_required[column] = required
        self.show_page()

    @property
    def signature(self) -> ModelSignature:
        """The edited signature (raises the error naming a field that does not fit)."""
        return edit_signature(self.inferred, self.edits)

    @property
    def problems(self) -> dict[str, str]:
        """The message for each column or parameter whose edit does not fit."""
        edits = self.edits
        return {
            **column_problems(self.prepared.sample, edits.column_types),
            **default_problems(self.inferred, edits),
        }

    def check(self, change: Any = None) -> None:
        """Show each field's message (a type the sample does not fit, a default of the wrong
        type), or clear it; the columns' messages are kept for the pages not shown."""
        problems = self.problems
        self.column_messages = {
            column: message_html(problems[column])
            for column in self.column_types
            if column in problems
        }
        for field in self.parameters:
            field.message.value = message_html(problems.get(field.parameter))
        self.show_page()

    def show_step(self, step: str) -> None:
        if step in LOG_STEPS:
            self.progress.value = LOG_STEPS.index(step) + 1
        self.status.value = escape(step if step == DONE else f"{step}...")

    @property
    def model_info(self) -> ModelInfo | None:
        """The logged model's ``ModelInfo`` after a click on "Log model" (else None)."""
        return self.logged.model_info if self.logged is not None else None

    def log_model(self, button: Any = None) -> ModelInfo | None:
        """Log the pipeline with the edited signature; the status shows progress, then the
        model URI or the error."""
        self.error = None
        self.progress.value = 0
        self.log_button.disabled = True
        try:
            # the log converts the sample to the edited column types itself
            self.logged = self.prepared.log(
                name=self.name,
                signature=self.signature,
                example_rows=self.example_rows,
                progress=self.show_step,
            )
        except Exception as error:
            self.error = str(error)
            self.status.value = message_html(f"not logged: {error}")
            return None
        finally:
            self.log_button.disabled = False
        self.status.value = f"logged: <code>{escape(self.logged.model_info.model_uri)}</code>"
        return self.model_info
