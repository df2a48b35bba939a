"""The roles view (SPEC 6, ``%kedro_inputs``): the pipeline drawn as a Mermaid flowchart, free
inputs coloured by role, beside the roles table with problems and their fixes.

JupyterLab (4.1+) draws Mermaid itself from a ```` ```mermaid ```` block in Markdown output, so no
layout is hand-made here. JupyterLab prefers ``text/html`` (rank 50) to ``text/markdown`` (60), so
a bundle holding both would never show the picture: the picture and the table are therefore two
children of an ipywidgets ``HBox``, and the box's own bundle adds the table as ``text/html`` and
``text/plain`` for every frontend that cannot show widgets (nbviewer, GitHub, a terminal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets

from kedro_mlflow_magic.display import legend_html, picture_bundle, pipeline_mermaid

__all__ = ["RolesView", "pipeline_mermaid", "roles_view"]

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline

    from kedro_mlflow_magic.roles import PipelineInputs


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
