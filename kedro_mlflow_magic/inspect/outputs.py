"""The model's output and the part of the pipeline it needs (docs/guides/notebook.md#choosing-the-output):
any dataset the pipeline produces can be the output; the model runs the nodes that output
needs, and every other node is left out with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from kedro.pipeline import Pipeline

from kedro_mlflow_magic.errors import NoOutputError, OutputNotChosenError

NO_OUTPUTS = "no outputs: writes elsewhere"
NOT_NEEDED = "not needed for the output"


@dataclass(frozen=True)
class LeftOutNode:
    """A node of the pipeline the model does not run, and why."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def intermediate_datasets(pipeline: Pipeline) -> list[str]:
    """The datasets the pipeline produces and reads again (not among its outputs)."""
    return sorted(pipeline.all_outputs() - pipeline.outputs())


def choose_output(pipeline: Pipeline, output: str | None) -> str:
    """The model's output: ``output`` when the pipeline produces it (a terminal output or an
    intermediate dataset), else the pipeline's only output; the error lists the choices."""
    outputs = sorted(pipeline.outputs())
    if not pipeline.all_outputs():
        raise NoOutputError(node.name for node in pipeline.nodes)
    if output is not None:
        if output not in pipeline.all_outputs():
            raise OutputNotChosenError(
                outputs, chosen=output, produced=intermediate_datasets(pipeline)
            )
        return output
    if not outputs:
        raise NoOutputError(
            (node.name for node in pipeline.nodes), produced=intermediate_datasets(pipeline)
        )
    if len(outputs) != 1:
        raise OutputNotChosenError(outputs)
    return outputs[0]


def left_out_nodes(pipeline: Pipeline, kept: Pipeline) -> list[LeftOutNode]:
    """The nodes of ``pipeline`` that ``kept`` does not run, in the pipeline's order."""
    names = {node.name for node in kept.nodes}
    return [
        LeftOutNode(node.name, NOT_NEEDED if node.outputs else NO_OUTPUTS)
        for node in pipeline.nodes
        if node.name not in names
    ]


def model_part(pipeline: Pipeline, output: str | None) -> tuple[Pipeline, list[LeftOutNode]]:
    """The part of the pipeline a model runs and the nodes left out: what ``output`` needs,
    or without it what the pipeline's outputs need (nodes with no outputs are left out)."""
    if output is not None:
        kept = pipeline.to_outputs(choose_output(pipeline, output))
    elif all(node.outputs for node in pipeline.nodes):
        return pipeline, []  # every node leads to an output: nothing to leave out
    elif pipeline.outputs():
        kept = pipeline.to_outputs(*sorted(pipeline.outputs()))
    else:
        return pipeline, []
    return kept, left_out_nodes(pipeline, kept)
