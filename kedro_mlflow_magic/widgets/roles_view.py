"""The roles view (``%kedro_inputs``): the pipeline drawn as a Mermaid flowchart, free
inputs coloured by role and namespaces as boxes (``picture``), above the roles table with
problems and their fixes.

JupyterLab (4.1+) draws Mermaid itself from a ```` ```mermaid ```` block in Markdown output, so no
layout is hand-made here. JupyterLab prefers ``text/html`` (rank 50) to ``text/markdown`` (60), so
a bundle holding both would never show the picture: the picture and the table are therefore two
children of an ipywidgets ``VBox``, and the box's own bundle adds the table as ``text/html`` and
``text/plain`` for every frontend that cannot show widgets (nbviewer, GitHub, a terminal).

The picture takes the cell's whole width, above the table; JupyterLab shows the diagram as an
image at its own size up to that width and would shrink a wider one until its labels cannot be
read, so the picture keeps its size (labels at text size) and scrolls instead, within a window
of the cell's width and ``PICTURE_HEIGHT``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets

from kedro_mlflow_magic.inspect.mermaid import legend_html, picture_bundle, pipeline_mermaid

__all__ = ["RolesView", "pipeline_mermaid", "roles_view"]

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline

    from kedro_mlflow_magic.inspect.roles import PipelineInputs

# A large diagram keeps its size and scrolls within this height and the cell's width, rather
# than shrinking until its labels cannot be read.
PICTURE_HEIGHT = "640px"
PICTURE_STYLE = (
    "<style>.kedro-mlflow-picture .jp-RenderedMermaid img"
    "{max-width:none !important;height:auto}</style>"
)


class RolesView(ipywidgets.VBox):
    """The picture above the table; its bundle also carries the roles table (HTML and text)
    for frontends that cannot show widgets."""

    def __init__(self, pipeline: Pipeline, inputs: PipelineInputs) -> None:
        # "auto", not "100%": a child of the box fills its width less its margins, so the box
        # itself never scrolls sideways (a second scrollbar under the picture's own)
        picture = ipywidgets.Output(
            layout=ipywidgets.Layout(width="auto", max_height=PICTURE_HEIGHT, overflow="auto")
        )
        picture.add_class("kedro-mlflow-picture")
        picture.outputs = (
            {
                "output_type": "display_data",
                "data": picture_bundle(pipeline, inputs),
                "metadata": {},
            },
        )
        table = ipywidgets.HTML(
            PICTURE_STYLE + legend_html() + inputs._repr_html_(),
            layout=ipywidgets.Layout(width="auto"),
        )
        super().__init__([picture, table], layout=ipywidgets.Layout(width="100%"))
        self.add_class("kedro-mlflow-roles-view")
        self.inputs = inputs

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle.update({"text/html": self.inputs._repr_html_(), "text/plain": str(self.inputs)})
        return bundle


def roles_view(pipeline: Pipeline, inputs: PipelineInputs) -> RolesView:
    """The picture of the pipeline above the roles table, as one displayable widget; the
    namespaces ``inputs.expand(...)`` opened are drawn open."""
    return RolesView(pipeline, inputs)
