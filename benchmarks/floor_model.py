"""The floor our overhead is measured against (docs/explanation/benchmarks.md#how-we-measure): a
hand-written MLflow PythonModel for the demo's inference pipeline.

It calls the demo's node functions directly on the encoder and classifier it loaded once, with the
parameters MLflow hands it. Logged from code (like our models) with our model's signature, so it
is loaded, and its input enforced, the same way. ``model_config`` names the node module.
"""

from __future__ import annotations

import importlib
import pickle
from typing import Any

import mlflow
from mlflow.pyfunc import PythonModel


def load_pickle(path: str) -> Any:
    with open(path, "rb") as file:
        return pickle.load(file)


class FloorModel(PythonModel):
    """Encode the features, then score: the demo's two nodes, nothing else."""

    def load_context(self, context: Any) -> None:
        nodes = importlib.import_module(context.model_config["nodes_module"])
        self.encode_features = nodes.encode_features
        self.score_customers = nodes.score_customers
        self.encoder = load_pickle(context.artifacts["encoder"])
        self.classifier = load_pickle(context.artifacts["classifier"])

    # No type hints: MLflow would read them as a schema; the logged signature rules.
    def predict(self, context, model_input, params=None):
        scoring = {
            "decimals": params["scoring.decimals"],
            "labels": {
                "positive": params["scoring.labels.positive"],
                "negative": params["scoring.labels.negative"],
            },
        }
        features = self.encode_features(model_input, self.encoder)
        return self.score_customers(
            model_input, features, self.classifier, params["threshold"], scoring
        )


if __name__ != "floor_model":
    mlflow.models.set_model(FloorModel())
