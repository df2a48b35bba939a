"""The picture of a pipeline drawn as Mermaid: shapes coloured by role, the notes that say how
it was made coarser, and the bundle (Markdown and plain text) the roles view shows."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import TYPE_CHECKING

from kedro_mlflow_magic.display import ROLE_COLOURS
from kedro_mlflow_magic.display.roles import role_rows
from kedro_mlflow_magic.inspect.picture import pipeline_picture

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline

    from kedro_mlflow_magic.inspect.picture import Picture
    from kedro_mlflow_magic.inspect.roles import PipelineInputs

ROLE_CLASSES = {
    "data input": "data_input",
    "artifact": "artifact",
    "parameter": "parameter",
    "problem": "problem",
}
OUTPUT_STYLE = "fill:#f1f3f5,stroke:#343a40,stroke-width:3px,color:#212529"


def input_roles(inputs: PipelineInputs) -> dict[str, str]:
    """The role of each free input by dataset name; an undecided data input's candidates are
    problems (the table says to name one)."""
    roles = {name: role for name, role, _detail in role_rows(inputs)}
    roles.pop("data input", None)  # the undetermined data input's problem row names no dataset
    if inputs.data_input is None:
        roles.update({name: "problem" for name in inputs.data_input_candidates})
    return roles


def mermaid_label(text: str) -> str:
    """Text safe inside a quoted Mermaid label (Mermaid's own entity codes)."""
    for character, entity in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(character, entity)
    return text


SHAPES = {
    "node": '["{}"]',
    "namespace": '[["{}"]]',  # Mermaid's subroutine shape: a box that holds nodes
    "dataset": '(["{}"])',
    "folded": '(["{}"])',
}


# Pictures whose longest chain of shapes is longer than this run top-down (as kedro-viz
# draws): left to right, each shape of a chain takes a column, and two nodes in a row (five
# shapes with their datasets) already overflow a laptop's notebook cell; top-down, a chain
# grows down the notebook and the picture fits the cell's width.
LEFT_TO_RIGHT_CHAIN = 3


def longest_chain(picture: Picture) -> int:
    """How many shapes the longest path through the picture's edges holds."""
    following: dict[str, list[str]] = {shape.identifier: [] for shape in picture.shapes}
    incoming = dict.fromkeys(following, 0)
    for source, target in picture.edges:
        following.setdefault(source, []).append(target)
        incoming[target] = incoming.get(target, 0) + 1
        incoming.setdefault(source, 0)
    # each shape after every shape whose edges lead to it (Kahn's order), then the lengths
    ordered, ready = [], [shape for shape, count in incoming.items() if count == 0]
    while ready:
        ordered.append(ready.pop())
        for target in following.get(ordered[-1], ()):
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    lengths: dict[str, int] = {}
    for shape in reversed(ordered):
        lengths[shape] = 1 + max((lengths[after] for after in following.get(shape, ())), default=0)
    return max(lengths.values(), default=0)


def picture_mermaid(picture: Picture) -> str:
    """The Mermaid flowchart of a picture: nodes as boxes, namespaces as double boxes, datasets
    as rounded shapes, free inputs coloured by role, terminal outputs outlined; left to right,
    or top-down when a chain holds more than ``LEFT_TO_RIGHT_CHAIN`` shapes."""
    across = longest_chain(picture) <= LEFT_TO_RIGHT_CHAIN
    lines = [f"flowchart {'LR' if across else 'TB'}"]
    lines += [
        f"    {shape.identifier}{SHAPES[shape.kind].format(mermaid_label(shape.label))}"
        for shape in picture.shapes
    ]
    lines += [f"    {source} --> {target}" for source, target in picture.edges]
    lines += [
        f"    classDef {ROLE_CLASSES[role]} fill:{colour},stroke:{colour},color:#ffffff"
        for role, colour in ROLE_COLOURS.items()
    ]
    lines.append(f"    classDef output {OUTPUT_STYLE}")
    styled = sorted(
        (shape for shape in picture.shapes if shape.role is not None),
        key=lambda shape: shape.kind in ("node", "namespace"),  # datasets first, as before
    )
    lines += [
        f"    class {shape.identifier} {ROLE_CLASSES.get(shape.role, shape.role)}"
        for shape in styled
    ]
    return "\n".join(lines)


def roles_picture(
    pipeline: Pipeline, inputs: PipelineInputs, expand: Iterable[str] | None = None
) -> Picture:
    """The picture of the pipeline with its free inputs' roles, the namespaces in ``expand``
    (by default those the inputs were opened with) open, within Mermaid's limits."""
    return pipeline_picture(
        pipeline,
        input_roles(inputs),
        inputs.outputs,
        inputs.expanded if expand is None else expand,
        measure=lambda picture: len(picture_mermaid(picture)),
    )


def pipeline_mermaid(
    pipeline: Pipeline, inputs: PipelineInputs, expand: Iterable[str] | None = None
) -> str:
    """The Mermaid flowchart of the pipeline (``roles_picture``)."""
    return picture_mermaid(roles_picture(pipeline, inputs, expand))


def picture_notes(picture: Picture) -> list[str]:
    """What a reader of the picture is told: how it was made coarser, and which namespaces
    are boxes and how to open one."""
    notes = [picture.note] if picture.note else []
    closed = [
        name
        for name in picture.namespaces
        if "." not in name or name.rsplit(".", 1)[0] in picture.expanded
    ]
    closed = [name for name in closed if name not in picture.expanded]
    if closed:
        listed = ", ".join(closed[:5]) + (f" and {len(closed) - 5} more" if len(closed) > 5 else "")
        notes.append(
            f"namespaces drawn as one box: {listed}; open one with "
            "`%kedro_inputs PIPELINE --expand NAMESPACE` (in Python: `inputs.expand(NAMESPACE)`)"
        )
    return notes


def legend_html() -> str:
    """The colour of each role, as small swatches."""
    swatches = [
        f'<span style="background:{colour};color:#fff;padding:1px 6px;margin-right:6px;'
        f'border-radius:8px">{escape(role)}</span>'
        for role, colour in ROLE_COLOURS.items()
    ]
    swatches.append(
        '<span style="border:3px solid #343a40;padding:0 6px;border-radius:8px">output</span>'
    )
    return f'<div class="kedro-mlflow-legend">{"".join(swatches)}</div>'


def picture_bundle(pipeline: Pipeline, inputs: PipelineInputs) -> dict[str, str]:
    """Markdown holding the picture's notes and its Mermaid block (drawn by JupyterLab), with
    the Mermaid text as the plain-text form."""
    picture = roles_picture(pipeline, inputs)
    mermaid = picture_mermaid(picture)
    notes = "".join(f"*{escape(note, quote=False)}*\n\n" for note in picture_notes(picture))
    return {"text/markdown": f"{notes}```mermaid\n{mermaid}\n```\n", "text/plain": mermaid}
