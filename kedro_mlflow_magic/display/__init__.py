"""HTML and plain-text forms of every result: each module shows one kind of result (the roles
table, a log's progress and summary, checks and comparisons); this one holds what they share,
the ``Summary`` base and the one label/value table renderer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any


class Summary:
    """A result shown as its summary: its text form is both its ``str`` and its ``repr``
    (Kedro's notebook set-up installs rich's pretty printer, which shows ``repr()``, not
    ``_repr_pretty_``), and its HTML form is what JupyterLab shows."""

    def summary_text(self) -> str:
        raise NotImplementedError

    def summary_html(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.summary_text()

    def __repr__(self) -> str:
        return self.summary_text()

    def _repr_html_(self) -> str:
        return self.summary_html()


ROLE_COLOURS = {
    "data input": "#2b8a3e",
    "artifact": "#1864ab",
    "parameter": "#e67700",
    "problem": "#c92a2a",
}


def short_value(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


CELL = "style='text-align:left;vertical-align:top;padding-right:1em'"


def facts_text(
    facts: Sequence[tuple[str, str]], sections: Sequence[tuple[str, list[str]]] = ()
) -> str:
    """Label/value lines, labels aligned, then each section's heading and its indented lines."""
    width = max((len(label) for label, _ in facts), default=0)
    lines = [f"{label:<{width}}  {value}" for label, value in facts]
    for section, items in sections:
        lines.append(f"{section}:")
        lines.extend(f"  {item}" for item in items)
    return "\n".join(lines)


def facts_html(
    facts: Sequence[tuple[str, str]],
    sections: Sequence[tuple[str, list[str]]] = (),
    *,
    links: Mapping[str, str] | None = None,
    colour: str | None = None,
) -> str:
    """The same as a table: a label's value is a link where ``links`` names the label, else
    code; a section's items stack in one cell; ``colour`` marks the table's left edge."""
    links = links or {}

    def shown(label: str, value: str) -> str:
        if label in links:
            return f'<a href="{escape(value)}" target="_blank">{escape(value)}</a>'
        return f"<code>{escape(str(value))}</code>"

    rows = "".join(
        f"<tr><th {CELL}>{escape(label)}</th><td {CELL}>{shown(label, value)}</td></tr>"
        for label, value in facts
    )
    for section, items in sections:
        stacked = "<br>".join(f"<code>{escape(item)}</code>" for item in items)
        rows += f"<tr><th {CELL}>{escape(section)}</th><td {CELL}>{stacked}</td></tr>"
    style = f' style="border-left:4px solid {colour}"' if colour else ""
    return f'<table class="kedro-mlflow-summary"{style}>{rows}</table>'
