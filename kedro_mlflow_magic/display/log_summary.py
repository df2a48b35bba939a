"""A log as it goes (the steps done so far) and once it is done (the model, its run, the
parity check, the signature)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from kedro_mlflow_magic.display import ROLE_COLOURS, Summary, facts_html, facts_text
from kedro_mlflow_magic.display.compact import section_lines
from kedro_mlflow_magic.progress import DONE, steps_for

if TYPE_CHECKING:
    from kedro_mlflow_magic.build.logged import LoggedModel


class LoggingProgress(Summary):
    """The steps of a log done so far, for an updatable display."""

    def __init__(self, name: str, registering: bool = False, checking: bool = False) -> None:
        self.name = name
        self.steps = steps_for(registering, checking)
        self.current: str | None = None
        self.failed = False

    def advance(self, step: str) -> None:
        self.current = step

    def fail(self) -> None:
        """The current step is the one that failed."""
        self.failed = True

    def marks(self) -> list[tuple[str, str]]:
        """(mark, step) per step: done, current (or failed), or still to come."""
        position = self.steps.index(self.current) if self.current in self.steps else -1
        if self.current == DONE:
            position = len(self.steps)
        current = "✗" if self.failed else "…"
        return [
            ("✓" if index < position else current if index == position else "·", step)
            for index, step in enumerate(self.steps)
        ]

    def summary_text(self) -> str:
        steps = "  ".join(f"{mark} {step}" for mark, step in self.marks())
        return f"logging model '{self.name}': {steps}"

    def summary_html(self) -> str:
        colours = {"✓": ROLE_COLOURS["data input"], "✗": ROLE_COLOURS["problem"]}
        steps = "".join(
            f'<li style="color:{colours.get(mark, "inherit")}">{mark} {escape(step)}</li>'
            for mark, step in self.marks()
        )
        return (
            f'<div class="kedro-mlflow-progress">logging model <code>{escape(self.name)}</code>'
            f'<ul style="list-style:none;margin:0;padding-left:1em">{steps}</ul></div>'
        )


def signature_lines(signature: Any, model_uri: str | None = None) -> list[tuple[str, list[str]]]:
    """(section, one line per column or parameter) of an MLflow ``ModelSignature``; a long
    section in one line (``compact.section_lines``)."""
    sections = []
    for section in ("inputs", "outputs", "params"):
        schema = getattr(signature, section, None)
        if schema is None:
            continue
        specs = schema.params if section == "params" else schema.inputs
        sections.append((section, section_lines(section, specs, model_uri)))
    return sections


def without_credentials(url: str) -> str:
    """The URL with any ``user:password@`` left out: a summary never shows a secret."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def ui_links(logged: LoggedModel) -> list[tuple[str, str]]:
    """With a tracking server: the run's and the model's pages in the MLflow UI."""
    if urlsplit(logged.tracking_uri).scheme not in ("http", "https"):
        return []
    base = without_credentials(logged.tracking_uri).rstrip("/")
    experiment = f"{base}/#/experiments/{logged.experiment_id}"
    links = [("run page", f"{experiment}/runs/{logged.run_id}")]
    model_id = getattr(logged.model_info, "model_id", None)
    if model_id:
        links.append(("model page", f"{experiment}/models/{model_id}"))
    return links


def logged_facts(logged: LoggedModel) -> list[tuple[str, str]]:
    """(label, value) lines of a log's summary."""
    info = logged.model_info
    facts = [("model URI", info.model_uri), ("run", f"{logged.run_id} ({logged.run_reason})")]
    facts += ui_links(logged)
    if logged.registered_model_name and logged.registered_version is not None:
        registered = f"{logged.registered_model_name} version {logged.registered_version}"
        if logged.alias:
            registered += f" (alias {logged.alias})"
        facts.append(("registered", registered))
    facts += [(f"artifact {name}", source) for name, source in logged.sources]
    facts += [("left out", line) for line in logged.left_out]
    facts.append(("parity check", logged.comparison.detail))
    if logged.environment_check is not None:
        facts.append(("environment", environment_headline(logged.environment_check)))
    facts += [("note", note) for note in logged.notes]
    return facts


def environment_headline(check: Any) -> str:
    """An environment check in one line: its headline, or the failure (an error)."""
    if isinstance(check, BaseException):
        return f"FAILED: {check}"
    return str(check.headline)


def logged_text(logged: LoggedModel) -> str:
    info = logged.model_info
    return facts_text(logged_facts(logged), signature_lines(info.signature, info.model_uri))


def logged_html(logged: LoggedModel) -> str:
    return facts_html(
        logged_facts(logged),
        signature_lines(logged.model_info.signature, logged.model_info.model_uri),
        links=dict(ui_links(logged)),
    )
