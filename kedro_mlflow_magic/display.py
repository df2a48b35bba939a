"""HTML and plain-text forms of every result, in one place."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedro_mlflow_magic.roles import PipelineInputs

ROLE_COLOURS = {
    "data input": "#2b8a3e",
    "artifact": "#1864ab",
    "parameter": "#e67700",
    "problem": "#c92a2a",
}


def short_value(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def role_rows(inputs: PipelineInputs) -> list[tuple[str, str, str]]:
    """(name, role, detail) for each free input, in the order a reader wants them."""
    rows: list[tuple[str, str, str]] = []
    if inputs.data_input:
        rows.append((inputs.data_input, "data input", "the frame to predict on"))
    for artifact in inputs.artifacts.values():
        where = "current value, pickled" if artifact.frozen else artifact.path or ""
        rows.append((artifact.name, "artifact", f"{artifact.dataset_type} ({where})"))
    for name, value in inputs.parameters.items():
        rows.append((name, "parameter", f"default {short_value(value)}"))
    for problem in inputs.problems:
        rows.append((problem.name, "problem", f"{problem.reason} Fix: {problem.fix}"))
    return rows


def roles_text(inputs: PipelineInputs) -> str:
    rows = role_rows(inputs)
    width = max([len(name) for name, _, _ in rows] + [4])
    lines = [f"{name:<{width}}  {role:<10}  {detail}" for name, role, detail in rows]
    if inputs.data_input is None:
        candidates = ", ".join(inputs.data_input_candidates) or "none"
        lines.insert(0, f"data input not determined (candidates: {candidates}); name it")
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
    if inputs.data_input is None:
        candidates = ", ".join(inputs.data_input_candidates) or "none"
        cells.insert(
            0,
            f'<tr><td colspan="3" style="color:{ROLE_COLOURS["problem"]}">data input not '
            f"determined (candidates: {escape(candidates)}); name it</td></tr>",
        )
    outputs = ", ".join(f"<code>{escape(name)}</code>" for name in inputs.outputs) or "none"
    return (
        '<table class="kedro-mlflow-roles">'
        "<thead><tr><th>input</th><th>role</th><th>detail</th></tr></thead>"
        f"<tbody>{''.join(cells)}</tbody></table>"
        f"<p>outputs: {outputs}</p>"
    )
