"""The roles view (SPEC 6, ``%kedro_inputs``): the pipeline drawn as a Mermaid flowchart, free
inputs coloured by role, beside the roles table with problems and their fixes.

JupyterLab (4.1+) draws Mermaid itself from a ```` ```mermaid ```` block in Markdown output, so no
layout is hand-made here. JupyterLab prefers ``text/html`` (rank 50) to ``text/markdown`` (60), so
a bundle holding both would never show the picture: the picture and the table are therefore two
children of an ipywidgets ``HBox``, and the box's own bundle adds the table as ``text/html`` and
``text/plain`` for every frontend that cannot show widgets (nbviewer, GitHub, a terminal).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets

from kedro_mlflow_magic.display import ROLE_COLOURS

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline

    from kedro_mlflow_magic.roles import PipelineInputs

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
    roles = {name: "artifact" for name in inputs.artifacts}
    roles.update({name: "parameter" for name in inputs.parameters})
    roles.update({problem.name: "problem" for problem in inputs.problems})
    if inputs.data_input is None:
        roles.update({name: "problem" for name in inputs.data_input_candidates})
    else:
        roles[inputs.data_input] = "data input"
    return roles


def mermaid_label(text: str) -> str:
    """Text safe inside a quoted Mermaid label (Mermaid's own entity codes)."""
    for character, entity in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(character, entity)
    return text


def pipeline_mermaid(pipeline: Pipeline, inputs: PipelineInputs) -> str:
    """A Mermaid flowchart of the pipeline: nodes as boxes, datasets as rounded shapes, free
    inputs coloured by role, terminal outputs outlined."""
    roles = input_roles(inputs)
    dataset_ids: dict[str, str] = {}

    def dataset_id(name: str) -> str:
        return dataset_ids.setdefault(name, f"data_{len(dataset_ids)}")

    lines = ["flowchart LR"]
    edges = []
    node_classes = []
    for index, node in enumerate(pipeline.nodes):
        node_id = f"node_{index}"
        lines.append(f'    {node_id}["{mermaid_label(node.name)}"]')
        if f"node {node.name}" in roles:
            node_classes.append(f"    class {node_id} problem")
        edges += [f"    {dataset_id(name)} --> {node_id}" for name in node.inputs]
        edges += [f"    {node_id} --> {dataset_id(name)}" for name in node.outputs]
    for name, identifier in dataset_ids.items():
        lines.append(f'    {identifier}(["{mermaid_label(name)}"])')
    lines += edges
    lines += [
        f"    classDef {ROLE_CLASSES[role]} fill:{colour},stroke:{colour},color:#ffffff"
        for role, colour in ROLE_COLOURS.items()
    ]
    lines.append(f"    classDef output {OUTPUT_STYLE}")
    for name, identifier in dataset_ids.items():
        if name in roles:
            lines.append(f"    class {identifier} {ROLE_CLASSES[roles[name]]}")
        elif name in inputs.outputs:
            lines.append(f"    class {identifier} output")
    return "\n".join(lines + node_classes)


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
    """Markdown holding the Mermaid block (drawn by JupyterLab), with the Mermaid text as the
    plain-text form."""
    mermaid = pipeline_mermaid(pipeline, inputs)
    return {"text/markdown": f"```mermaid\n{mermaid}\n```\n", "text/plain": mermaid}


class RolesView(ipywidgets.HBox):
    """The picture beside the table; its bundle also carries the roles table (HTML and text)
    for frontends that cannot show widgets."""

    def __init__(self, pipeline: Pipeline, inputs: PipelineInputs) -> None:
        picture = ipywidgets.Output(layout=ipywidgets.Layout(flex="3 1 0", overflow="auto"))
        picture.outputs = (
            {
                "output_type": "display_data",
                "data": picture_bundle(pipeline, inputs),
                "metadata": {},
            },
        )
        table = ipywidgets.HTML(
            legend_html() + inputs._repr_html_(), layout=ipywidgets.Layout(flex="2 1 0")
        )
        super().__init__([picture, table], layout=ipywidgets.Layout(width="100%"))
        self.add_class("kedro-mlflow-roles-view")
        self.inputs = inputs

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle.update({"text/html": self.inputs._repr_html_(), "text/plain": str(self.inputs)})
        return bundle


def roles_view(pipeline: Pipeline, inputs: PipelineInputs) -> RolesView:
    """The picture of the pipeline beside the roles table, as one displayable widget."""
    return RolesView(pipeline, inputs)
