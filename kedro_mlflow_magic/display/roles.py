"""The roles table: each free input of a pipeline with its role and what it is."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from kedro_mlflow_magic.display import ROLE_COLOURS, short_value

if TYPE_CHECKING:
    from kedro_mlflow_magic.inspect.roles import PipelineInputs


# the kinds of data (pandas, Spark, polars, numpy arrays) as the roles table names them
KIND_NAMES = {
    "pandas": "pandas DataFrame",
    "spark": "Spark DataFrame",
    "polars": "polars DataFrame",
    "polars-lazy": "polars LazyFrame",
    "numpy": "numpy array",
}


# a parameter as the data input (inspect/parameter_input.py)
PARAMETER_PREFIXES = ("params:", "parameters")
PARAMETER_INPUT = (
    "a parameter as the model's input: one row a call, a column per field, given to the nodes "
    "as Kedro gives the parameter"
)


def described(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


def role_rows(inputs: PipelineInputs) -> list[tuple[str, str, str]]:
    """(name, role, detail) for each free input, in the order a reader wants them."""
    rows: list[tuple[str, str, str]] = []
    if inputs.data_input and inputs.data_input.startswith(PARAMETER_PREFIXES):
        rows.append((inputs.data_input, "data input", PARAMETER_INPUT))
    elif inputs.data_input:
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


def left_out_lines(left_out: list[Any], limit: int = 8) -> list[str]:
    """The nodes a model leaves out, one line per reason: ``a, b (not needed for the output)``
    (the first ``limit`` names, then how many more)."""
    by_reason: dict[str, list[str]] = {}
    for node in left_out:
        by_reason.setdefault(node.reason, []).append(node.name)
    lines = []
    for reason, names in by_reason.items():
        more = f" and {len(names) - limit} more" if len(names) > limit else ""
        lines.append(f"{', '.join(names[:limit])}{more} ({reason})")
    return lines


def roles_text(inputs: PipelineInputs) -> str:
    rows = role_rows(inputs)
    width = max([len(name) for name, _, _ in rows] + [4])
    lines = [f"{name:<{width}}  {role:<10}  {detail}" for name, role, detail in rows]
    if inputs.note:
        lines.insert(0, f"note: {inputs.note}")
    lines.append(f"outputs: {', '.join(inputs.outputs) or 'none'}")
    lines += [f"left out: {line}" for line in left_out_lines(inputs.left_out)]
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
    left_out = "".join(
        f"<p>left out: {escape(line)}</p>" for line in left_out_lines(inputs.left_out)
    )
    return (
        note + '<table class="kedro-mlflow-roles">'
        "<thead><tr><th>input</th><th>role</th><th>detail</th></tr></thead>"
        f"<tbody>{''.join(cells)}</tbody></table>"
        f"<p>outputs: {outputs}</p>{left_out}"
    )
