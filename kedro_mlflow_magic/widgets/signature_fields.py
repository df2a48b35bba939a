"""The fields of the signature editor: one input column (type, required flag, message), one
parameter (default, message), and the small HTML pieces around them."""

from __future__ import annotations

from html import escape

import ipywidgets

from kedro_mlflow_magic.build.signature_edits import column_types

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
