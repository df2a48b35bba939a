"""The signature editor (SPEC 6, ``%kedro_signature``): the inferred signature as editable
fields, each edit checked by the core (``signature_edits``) with its message beside the field,
and a "Log model" button that logs with the edited signature.

The widgets hold only what a person typed; ``.edits``, ``.signature`` and the messages are
computed from those values by the core functions each time.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets
import pandas as pd

from kedro_mlflow_magic.progress import DONE, steps_for
from kedro_mlflow_magic.signature_edits import (
    SignatureEdits,
    column_problems,
    column_rows,
    column_types,
    default_problems,
    edit_signature,
    parameter_rows,
    tensor_text,
)

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

    from kedro_mlflow_magic.prepared import LoggedModel, PreparedPipeline

LOG_STEPS = [*steps_for(registering=False), DONE]
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
    """One input column: its name, MLflow type (Dropdown), required flag and message."""

    def __init__(self, name: str, type_name: str, required: bool) -> None:
        self.column = name
        self.type = ipywidgets.Dropdown(
            options=column_types(), value=type_name, layout={"width": "120px"}
        )
        self.required = ipywidgets.Checkbox(value=required, description="required", indent=False)
        self.message = ipywidgets.HTML()
        super().__init__([name_label(name), self.type, self.required, self.message])
        self.add_class("kedro-mlflow-column")


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

        self.columns = [
            ColumnField(row.name, row.type, row.required)
            for row in column_rows(self.inferred.inputs)
        ]
        self.parameters = [
            ParameterField(row.name, row.type, row.default_text)
            for row in parameter_rows(self.inferred)
        ]
        for field in self.columns:
            field.type.observe(self.check, names="value")
        for field in self.parameters:
            field.default.observe(self.check, names="value")
        self.log_button = ipywidgets.Button(
            description="Log model", button_style="primary", icon="upload"
        )
        self.log_button.on_click(self.log_model)
        self.progress = ipywidgets.IntProgress(value=0, min=0, max=len(LOG_STEPS))
        self.status = ipywidgets.HTML()
        self.status.add_class("kedro-mlflow-status")
        super().__init__(self.sections())
        self.add_class("kedro-mlflow-signature-editor")

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
            example = sample.head(self.example_rows).to_html(index=False, border=0)
        else:  # a numpy array (a tensor input)
            example = f"<pre>{escape(repr(sample[: self.example_rows]))}</pre>"
        tensor_input = tensor_text(self.inferred.inputs)
        inputs: list[ipywidgets.Widget] = (
            [heading(f"Input tensor (data input '{roles.data_input}')"),
             ipywidgets.HTML(f"<ul><li>{escape(tensor_input)}</li></ul>")]
            if tensor_input is not None
            else [heading(f"Input columns (data input '{roles.data_input}')"), *self.columns]
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
        inferred_columns = {row.name: row for row in column_rows(self.inferred.inputs)}
        inferred_defaults = {row.name: row.default_text for row in parameter_rows(self.inferred)}
        return SignatureEdits(
            column_types={
                field.column: field.type.value
                for field in self.columns
                if field.type.value != inferred_columns[field.column].type
            },
            required={
                field.column: field.required.value
                for field in self.columns
                if field.required.value != inferred_columns[field.column].required
            },
            parameter_defaults={
                field.parameter: field.default.value
                for field in self.parameters
                if field.default.value != inferred_defaults[field.parameter]
            },
        )

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
        type), or clear it."""
        problems = self.problems
        for field in self.columns:
            field.message.value = message_html(problems.get(field.column))
        for field in self.parameters:
            field.message.value = message_html(problems.get(field.parameter))

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
