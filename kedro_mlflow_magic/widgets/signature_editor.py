"""The signature editor (``%kedro_signature``): the inferred signature as editable
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
from kedro_mlflow_magic.errors import one_line
from kedro_mlflow_magic.options import LogOptions, log_options
from kedro_mlflow_magic.progress import DONE, steps_for
from kedro_mlflow_magic.widgets.signature_fields import (
    ColumnField,
    ParameterField,
    heading,
    message_html,
)

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

    from kedro_mlflow_magic.build.logged import LoggedModel
    from kedro_mlflow_magic.prepared import PreparedPipeline

LOG_STEPS = [*steps_for(registering=False), DONE]
PAGE_SIZE = 20  # column fields on a page
EXAMPLE_COLUMNS = 20  # columns of the input example shown


class SignatureEditor(ipywidgets.VBox):
    """The inferred signature of a pipeline's model, editable, with a "Log model" button.

    What a user reads and calls (the rest is the widget's own):

    - ``signature``: the edited ``ModelSignature``, at any time (``--signature editor`` of
      ``%kedro_log_model`` reads it); ``inferred``: the signature as inferred; ``edits``: what
      differs from it; ``problems``: each field whose edit does not fit, with why.
    - ``log_model(**changes)``: what the "Log model" button does: log ``prepared`` with the
      edited signature and ``options`` (any ``LogOptions`` field in ``changes`` for this log).
    - After a log: ``model_info`` (MLflow's ``ModelInfo``) and ``logged`` (the
      ``LoggedModel``), or ``error``, the one line that says why it failed.
    - ``prepared``: the ``PreparedPipeline`` it edits the signature of; ``options``: the
      ``LogOptions`` the button logs with (``%kedro_signature`` takes them as
      ``%kedro_log_model`` does).

    Columns are shown a page at a time (``PAGE_SIZE``), filtered by name and type; the type
    and required flag of every column are kept apart from the fields (what a person chose,
    the inferred values until then), so that a frame of 1000 columns builds one page of
    fields, and a bulk edit changes the filtered columns at once.
    """

    def __init__(
        self,
        prepared: PreparedPipeline,
        options: LogOptions | None = None,
        *,
        shown_in: int | None = None,
        **changes: Any,
    ) -> None:
        """``options`` (the defaults when None) with any of their fields in ``changes``
        (``name="churn"``); ``shown_in``: the cell execution whose magic displays the editor
        (it is not shown a second time as that cell's result)."""
        self.prepared = prepared
        self.options = log_options(options, **changes)
        self.inferred = prepared.signature()
        self.logged: LoggedModel | None = None
        self.error: str | None = None
        self._shown_in = shown_in
        self._holding = False  # True while the editor itself sets the fields' values

        rows = column_rows(self.inferred.inputs)
        self._inferred_columns = {row.name: row for row in rows}
        self._column_types = {row.name: row.type for row in rows}
        self._column_required = {row.name: row.required for row in rows}
        self._column_messages: dict[str, str] = {}
        self._page = 0
        self._name_filter = ipywidgets.Text(
            placeholder="filter by name", continuous_update=False, layout={"width": "220px"}
        )
        self._type_filter = ipywidgets.Dropdown(
            options=type_filters(), value=ANY_TYPE, layout={"width": "150px"}
        )
        self._previous_page = ipywidgets.Button(icon="chevron-left", layout={"width": "36px"})
        self._next_page = ipywidgets.Button(icon="chevron-right", layout={"width": "36px"})
        self._page_label = ipywidgets.HTML()
        self._bulk_type = ipywidgets.Dropdown(
            options=column_types(), value="double", layout={"width": "120px"}
        )
        self._apply_type = ipywidgets.Button(description="set type")
        self._make_required = ipywidgets.Button(description="all required")
        self._make_optional = ipywidgets.Button(description="none required")
        self._column_fields = [
            ColumnField(row.name, row.type, row.required) for row in rows[:PAGE_SIZE]
        ]
        self._parameters = [
            ParameterField(row.name, row.type, row.default_text)
            for row in parameter_rows(self.inferred)
        ]
        for field in self._column_fields:
            field.type.observe(partial(self._typed, field), names="value")
            field.required.observe(partial(self._ticked, field), names="value")
        for field in self._parameters:
            field.default.observe(self._check, names="value")
        self._name_filter.observe(self._refilter, names="value")
        self._type_filter.observe(self._refilter, names="value")
        self._previous_page.on_click(lambda button: self._turn(-1))
        self._next_page.on_click(lambda button: self._turn(1))
        self._apply_type.on_click(lambda button: self._set_types(self._bulk_type.value))
        self._make_required.on_click(lambda button: self._set_required(True))
        self._make_optional.on_click(lambda button: self._set_required(False))
        self._log_button = ipywidgets.Button(
            description="Log model", button_style="primary", icon="upload"
        )
        self._log_button.on_click(lambda button: self.log_model())
        self._progress = ipywidgets.IntProgress(value=0, min=0, max=len(LOG_STEPS))
        self._status = ipywidgets.HTML()
        self._status.add_class("kedro-mlflow-status")
        self._filtered = list(self._column_types)
        self._show_page()
        super().__init__(self._sections())
        self.add_class("kedro-mlflow-signature-editor")

    @property
    def _columns(self) -> list[ColumnField]:
        """The column fields on the page shown now."""
        return [field for field in self._column_fields if field.layout.display != "none"]

    def _column_tools(self) -> list[ipywidgets.Widget]:
        """The filter, the page controls and the bulk edits: only for more columns than a
        page holds, or a filter to use."""
        if len(self._column_types) <= PAGE_SIZE:
            return []
        filters = ipywidgets.HBox(
            [self._name_filter, self._type_filter, self._previous_page, self._next_page,
             self._page_label]
        )  # fmt: skip
        filters.add_class("kedro-mlflow-column-filter")
        bulk = ipywidgets.HBox(
            [ipywidgets.HTML("the filtered columns:"), self._bulk_type, self._apply_type,
             self._make_required, self._make_optional]
        )  # fmt: skip
        bulk.add_class("kedro-mlflow-bulk-edit")
        return [filters, bulk]

    def _ipython_display_(self) -> None:
        """Display the editor, except a second time as the result of the cell whose magic
        already showed it (``%kedro_signature`` both shows and returns it)."""
        from IPython.core.getipython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        if shell is not None and self._shown_in == shell.execution_count:
            return
        display(self._repr_mimebundle_(), raw=True)

    def _sections(self) -> list[ipywidgets.Widget]:
        roles = self.prepared.roles
        outputs = "".join(
            f"<li><code>{escape(row.name)}</code>: {escape(row.type)}</li>"
            for row in column_rows(self.inferred.outputs)
        )
        sample = self.prepared.sample
        if isinstance(sample, pd.DataFrame):
            example = sample.head(self.options.example_rows).to_html(
                index=False, border=0, max_cols=EXAMPLE_COLUMNS
            )
        else:  # a numpy array (a tensor input)
            example = f"<pre>{escape(repr(sample[: self.options.example_rows]))}</pre>"
        tensor_input = tensor_text(self.inferred.inputs)
        inputs: list[ipywidgets.Widget] = (
            [heading(f"Input tensor (data input '{roles.data_input}')"),
             ipywidgets.HTML(f"<ul><li>{escape(tensor_input)}</li></ul>")]
            if tensor_input is not None
            else [heading(f"Input columns (data input '{roles.data_input}')"),
                  *self._column_tools(), *self._column_fields]
        )  # fmt: skip
        tensor_output = tensor_text(self.inferred.outputs)
        if tensor_output is not None:
            outputs = f"<li>tensor: {escape(tensor_output)}</li>"
        return [
            *inputs,
            heading(f"Output ('{self.prepared.output}')"),
            ipywidgets.HTML(f"<ul>{outputs or '<li>not column-based</li>'}</ul>"),
            heading("Parameters (default used when predict gets no params)"),
            *(self._parameters or [ipywidgets.HTML("<i>none</i>")]),
            heading(f"Input example (first {self.options.example_rows} rows of the sample)"),
            ipywidgets.HTML(example),
            ipywidgets.HBox([self._log_button, self._progress, self._status]),
        ]

    @property
    def edits(self) -> SignatureEdits:
        """What differs from the inferred signature, as plain values."""
        inferred_defaults = {row.name: row.default_text for row in parameter_rows(self.inferred)}
        return SignatureEdits(
            column_types={
                column: chosen
                for column, chosen in self._column_types.items()
                if chosen != self._inferred_columns[column].type
            },
            required={
                column: required
                for column, required in self._column_required.items()
                if required != self._inferred_columns[column].required
            },
            parameter_defaults={
                field.parameter: field.default.value
                for field in self._parameters
                if field.default.value != inferred_defaults[field.parameter]
            },
        )

    # --- the columns: a page of fields over the filtered columns ---

    def _show_page(self) -> None:
        """Point the page's fields at the filtered columns of the current page."""
        pages = max(1, -(-len(self._filtered) // PAGE_SIZE))
        self._page = min(max(self._page, 0), pages - 1)
        start = self._page * PAGE_SIZE
        shown = self._filtered[start : start + PAGE_SIZE]
        self._holding = True
        try:
            for field, column in zip(self._column_fields, shown, strict=False):
                field.show(
                    column,
                    self._column_types[column],
                    self._column_required[column],
                    self._column_messages.get(column, ""),
                )
            for field in self._column_fields[len(shown) :]:
                field.layout.display = "none"
        finally:
            self._holding = False
        self._previous_page.disabled = self._page == 0
        self._next_page.disabled = self._page >= pages - 1
        total = len(self._column_types)
        span = f"{start + 1}-{start + len(shown)}" if shown else "none"
        self._page_label.value = (
            f"columns {span} of {len(self._filtered)}"
            + (f" (of {total})" if len(self._filtered) != total else "")
            + f", page {self._page + 1} of {pages}"
        )

    def _refilter(self, change: Any = None) -> None:
        """Apply the name and type filters, from the first page."""
        self._filtered = matching_columns(
            self._column_types, self._name_filter.value, self._type_filter.value
        )
        self._page = 0
        self._show_page()

    def _turn(self, pages: int) -> None:
        self._page += pages
        self._show_page()

    def _typed(self, field: ColumnField, change: Any) -> None:
        """A person chose a column's type in its field."""
        if not self._holding:
            self._column_types[field.column] = change["new"]
            self._check()

    def _ticked(self, field: ColumnField, change: Any) -> None:
        """A person ticked (or cleared) a column's required flag."""
        if not self._holding:
            self._column_required[field.column] = change["new"]

    def _set_types(self, type_name: str) -> None:
        """Give every filtered column the type ``type_name`` (e.g. all integer columns ->
        double); the filter still shows the same columns."""
        for column in self._filtered:
            self._column_types[column] = type_name
        self._check()

    def _set_required(self, required: bool) -> None:
        """Make every filtered column required (or not)."""
        for column in self._filtered:
            self._column_required[column] = required
        self._show_page()

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

    def _check(self, change: Any = None) -> None:
        """Show each field's message (a type the sample does not fit, a default of the wrong
        type), or clear it; the columns' messages are kept for the pages not shown."""
        problems = self.problems
        self._column_messages = {
            column: message_html(problems[column])
            for column in self._column_types
            if column in problems
        }
        for field in self._parameters:
            field.message.value = message_html(problems.get(field.parameter))
        self._show_page()

    def _show_step(self, step: str) -> None:
        if step in LOG_STEPS:
            self._progress.value = LOG_STEPS.index(step) + 1
        self._status.value = escape(step if step == DONE else f"{step}...")

    @property
    def model_info(self) -> ModelInfo | None:
        """The logged model's ``ModelInfo`` after a click on "Log model" (else None)."""
        return self.logged.model_info if self.logged is not None else None

    def log_model(self, **changes: Any) -> ModelInfo | None:
        """Log the pipeline with the edited signature and ``options`` (with ``changes``, any
        ``LogOptions`` field, for this log), as the "Log model" button does: the status shows
        the progress, then the model URI; a failure is kept in ``error`` and shown, not
        raised. Returns the ``ModelInfo`` (None when it failed)."""
        self.error = None
        self._progress.value = 0
        self._log_button.disabled = True
        try:
            # the log converts the sample to the edited column types itself
            options = self.options.but(signature=self.signature, **changes)
            self.logged = self.prepared.log(options, progress=self._show_step)
        except Exception as error:
            self.error = one_line(str(error))
            self._status.value = message_html(f"not logged: {self.error}")
            return None
        finally:
            self._log_button.disabled = False
        self._status.value = f"logged: <code>{escape(self.logged.model_info.model_uri)}</code>"
        return self.model_info
