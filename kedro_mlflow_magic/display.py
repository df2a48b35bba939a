"""HTML and plain-text forms of every result, in one place."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from kedro_mlflow_magic.progress import DONE, steps_for

if TYPE_CHECKING:
    from kedro_mlflow_magic.build.logged import LoggedModel
    from kedro_mlflow_magic.inspect.roles import PipelineInputs


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


# the kinds of data (SPEC 11) as the roles table names them
KIND_NAMES = {
    "pandas": "pandas DataFrame",
    "spark": "Spark DataFrame",
    "polars": "polars DataFrame",
    "polars-lazy": "polars LazyFrame",
    "numpy": "numpy array",
}


def described(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


def role_rows(inputs: PipelineInputs) -> list[tuple[str, str, str]]:
    """(name, role, detail) for each free input, in the order a reader wants them."""
    rows: list[tuple[str, str, str]] = []
    if inputs.data_input:
        kind = inputs.kinds.get(inputs.data_input)
        given = f"a {described(kind)}" if kind else "of the sample's kind"
        rows.append((inputs.data_input, "data input", f"the frame to predict on, {given}"))
    for artifact in inputs.artifacts.values():
        if artifact.mlflow_model is not None:
            rows.append((artifact.name, "artifact", artifact.mlflow_model.describe()))
            continue
        where = "current value, pickled" if artifact.frozen else artifact.path or ""
        if artifact.from_run is not None:
            where += f", from run {artifact.from_run.run_id}"
        kind = inputs.kinds.get(artifact.name)
        loads = f", a {described(kind)}" if kind and not artifact.frozen else ""
        rows.append((artifact.name, "artifact", f"{artifact.dataset_type} ({where}){loads}"))
    for name, value in inputs.parameters.items():
        rows.append((name, "parameter", f"default {short_value(value)}"))
    for problem in inputs.problems:
        rows.append((problem.name, "problem", f"{problem.reason} Fix: {problem.fix}"))
    return rows


def roles_text(inputs: PipelineInputs) -> str:
    rows = role_rows(inputs)
    width = max([len(name) for name, _, _ in rows] + [4])
    lines = [f"{name:<{width}}  {role:<10}  {detail}" for name, role, detail in rows]
    if inputs.note:
        lines.insert(0, f"note: {inputs.note}")
    lines.append(f"outputs: {', '.join(inputs.outputs) or 'none'}")
    status = (
        "ready to log"
        if not inputs.problems and inputs.data_input
        else f"{len(inputs.problems)} problem(s) stop packaging"
    )
    lines.append(status)
    return "\n".join(lines)


def roles_html(inputs: PipelineInputs) -> str:
    cells = []
    for name, role, detail in role_rows(inputs):
        colour = ROLE_COLOURS[role]
        cells.append(
            f"<tr><td><code>{escape(name)}</code></td>"
            f'<td style="color:{colour};font-weight:bold">{role}</td>'
            f"<td>{escape(detail)}</td></tr>"
        )
    outputs = ", ".join(f"<code>{escape(name)}</code>" for name in inputs.outputs) or "none"
    note = f"<p>note: {escape(inputs.note)}</p>" if inputs.note else ""
    return (
        note + '<table class="kedro-mlflow-roles">'
        "<thead><tr><th>input</th><th>role</th><th>detail</th></tr></thead>"
        f"<tbody>{''.join(cells)}</tbody></table>"
        f"<p>outputs: {outputs}</p>"
    )


# --- magics: logging progress, logging summary, predictions compared with the pipeline ---


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


def signature_lines(signature: Any) -> list[tuple[str, list[str]]]:
    """(section, one line per column or parameter) of an MLflow ``ModelSignature``."""
    sections = []
    for section in ("inputs", "outputs", "params"):
        schema = getattr(signature, section, None)
        if schema is None:
            continue
        specs = schema.params if section == "params" else schema.inputs
        sections.append((section, [str(spec) for spec in specs]))
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
    facts = logged_facts(logged)
    width = max(len(label) for label, _ in facts)
    lines = [f"{label:<{width}}  {value}" for label, value in facts]
    for section, specs in signature_lines(logged.model_info.signature):
        lines.append(f"{section}:")
        lines.extend(f"  {spec}" for spec in specs)
    return "\n".join(lines)


def logged_html(logged: LoggedModel) -> str:
    cell = "style='text-align:left;vertical-align:top;padding-right:1em'"
    links = dict(ui_links(logged))

    def shown(label: str, value: str) -> str:
        if label in links:
            return f'<a href="{escape(value)}" target="_blank">{escape(value)}</a>'
        return f"<code>{escape(str(value))}</code>"

    rows = "".join(
        f"<tr><th {cell}>{escape(label)}</th><td {cell}>{shown(label, value)}</td></tr>"
        for label, value in logged_facts(logged)
    )
    for section, specs in signature_lines(logged.model_info.signature):
        items = "<br>".join(f"<code>{escape(spec)}</code>" for spec in specs)
        rows += f"<tr><th {cell}>{section}</th><td {cell}>{items}</td></tr>"
    return f'<table class="kedro-mlflow-summary">{rows}</table>'


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
    facts = environment_facts(check)
    width = max(len(label) for label, _ in facts)
    text = "\n".join(f"{label:<{width}}  {value}" for label, value in facts)
    rows = check.differing_rows
    if rows is not None and not rows.empty:
        text += f"\nfirst rows that differ:\n{rows.to_string()}"
    return text


def environment_html(check: Any) -> str:
    cell = "style='text-align:left;vertical-align:top;padding-right:1em'"
    colour = ROLE_COLOURS["data input"] if check.agree else ROLE_COLOURS["problem"]
    rows = "".join(
        f"<tr><th {cell}>{escape(label)}</th><td {cell}><code>{escape(value)}</code></td></tr>"
        for label, value in environment_facts(check)
    )
    html = (
        f'<table class="kedro-mlflow-summary" style="border-left:4px solid {colour}">{rows}</table>'
    )
    differing = check.differing_rows
    if differing is not None and not differing.empty:
        html += "<p>first rows that differ:</p>" + differing.to_html()
    return html
