from kedro.pipeline import node, pipeline

from . import nodes


def register_pipelines():
    return {
        "__default__": pipeline(
            [node(nodes.score, ["rows", "weights", "params:threshold"], "scores", name="score")]
        )
    }
