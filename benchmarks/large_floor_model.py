"""The floor for ``bench_large``: a hand-written MLflow PythonModel calling the chain's node
function directly, each node on the previous node's frame, with the tables it loaded once and
the factors MLflow hands it. Logged from code with our model's signature, so that it is loaded,
and its input and parameters enforced, the same way: what it costs over the node calls is
MLflow's. ``model_config`` names the node module, the number of nodes and the namespace size.
"""

from __future__ import annotations

import importlib
import pickle
from typing import Any

import mlflow
from mlflow.pyfunc import PythonModel


class ChainFloor(PythonModel):
    def load_context(self, context: Any) -> None:
        config = context.model_config
        self.step = importlib.import_module(config["nodes_module"]).step
        size, per_namespace = config["size"], config["namespace_size"]
        self.namespaces = [f"block_{index // per_namespace:02d}" for index in range(size)]
        self.tables = {}
        for namespace in set(self.namespaces):
            with open(context.artifacts[namespace], "rb") as file:
                self.tables[namespace] = pickle.load(file)

    # No type hints: MLflow would read them as a schema; the logged signature rules.
    def predict(self, context, model_input, params=None):
        frame = model_input
        for namespace in self.namespaces:
            frame = self.step(frame, self.tables[namespace], params[f"{namespace}.factor"])
        return frame


if __name__ != "large_floor_model":
    mlflow.models.set_model(ChainFloor())
