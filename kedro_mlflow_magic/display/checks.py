"""Checks shown to the user: the model's answers compared with the pipeline's, and the model
checked in an environment of its own requirements."""

from __future__ import annotations

from html import escape
from typing import Any

from kedro_mlflow_magic.display import ROLE_COLOURS, Summary, facts_html, facts_text


class ComparisonView(Summary):
    """Whether the model and the pipeline agree on a frame, and the first rows that differ."""

    def __init__(self, comparison: Any) -> None:
        self.comparison = comparison

    @property
    def headline(self) -> str:
        verdict = "agree" if self.comparison.agree else "DISAGREE"
        return f"model and pipeline {verdict}: {self.comparison.detail}"

    def summary_text(self) -> str:
        rows = self.comparison.differing_rows
        if rows is None or rows.empty:
            return self.headline
        return f"{self.headline}\nfirst rows that differ:\n{rows.to_string()}"

    def summary_html(self) -> str:
        colour = ROLE_COLOURS["data input"] if self.comparison.agree else ROLE_COLOURS["problem"]
        html = f'<p style="color:{colour};font-weight:bold">{escape(self.headline)}</p>'
        rows = self.comparison.differing_rows
        if rows is not None and not rows.empty:
            html += "<p>first rows that differ:</p>" + rows.to_html()
        return html


class NoteView(Summary):
    """A one-line note beside a result (a model checked on larger batches than it is given)."""

    def __init__(self, note: str) -> None:
        self.note = note

    def summary_text(self) -> str:
        return self.note

    def summary_html(self) -> str:
        return f'<p style="color:{ROLE_COLOURS["parameter"]}">{escape(self.note)}</p>'


def environment_facts(check: Any) -> list[tuple[str, str]]:
    """(label, value) lines of an environment check (``environment.EnvironmentCheck``)."""
    requirements = ", ".join(f"{name} {version}" for name, version in check.packages.items())
    return [
        ("environment check", check.headline),
        ("model URI", check.model_uri),
        ("environment", str(check.environment)),
        ("python", check.python),
        ("requirements there", requirements),
    ]


def environment_text(check: Any) -> str:
    text = facts_text(environment_facts(check))
    rows = check.differing_rows
    if rows is not None and not rows.empty:
        text += f"\nfirst rows that differ:\n{rows.to_string()}"
    return text


def environment_html(check: Any) -> str:
    colour = ROLE_COLOURS["data input"] if check.agree else ROLE_COLOURS["problem"]
    html = facts_html(environment_facts(check), colour=colour)
    differing = check.differing_rows
    if differing is not None and not differing.empty:
        html += "<p>first rows that differ:</p>" + differing.to_html()
    return html
