"""The project's pipelines."""

from kedro.pipeline import Pipeline, node, pipeline

from . import nodes


def register_pipelines() -> dict[str, Pipeline]:
    training = pipeline(
        [
            node(nodes.generate_customers, ["params:n_customers", "params:seed"], "customers",
                 name="generate_customers"),
            node(nodes.fit_encoder, "customers", "encoder", name="fit_encoder"),
            node(nodes.train_classifier, ["customers", "encoder", "params:model"], "classifier",
                 name="train_classifier"),
        ]
    )
    inference = pipeline(
        [
            node(nodes.encode_features, ["customers_to_score", "encoder"], "features",
                 name="encode_features"),
            node(nodes.score_customers,
                 ["customers_to_score", "features", "classifier", "params:threshold",
                  "params:scoring"],
                 "predictions", name="score_customers"),
        ]
    )
    return {"training": training, "inference": inference, "__default__": training}
