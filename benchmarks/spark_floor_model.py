"""The Spark floor (the floor of docs/explanation/benchmarks.md#how-we-measure, for a Spark model):
a hand-written MLflow PythonModel that does what a served Spark model must do, and nothing else: the
caller's pandas frame into the Spark session (``createDataFrame``), the same two node functions on
Spark, and ``toPandas`` back. Logged from code with our model's signature, so it is loaded and its
input enforced the same way."""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

import mlflow
from mlflow.pyfunc import PythonModel


class SparkFloorModel(PythonModel):
    def load_context(self, context: Any) -> None:
        from pyspark.sql import SparkSession

        settings = json.loads(os.environ.get("KEDRO_MLFLOW_MAGIC_SPARK") or "{}")
        builder = SparkSession.builder.master(settings.pop("spark.master", "local[*]"))
        for key, value in settings.items():
            builder = builder.config(key, value)
        self.spark = SparkSession.getActiveSession() or builder.getOrCreate()
        nodes = importlib.import_module(context.model_config["nodes_module"])
        self.add_fare, self.name_zones = nodes.add_fare, nodes.name_zones
        self.zones = self.spark.read.parquet(context.artifacts["zones"])

    def predict(self, context, model_input, params=None):
        trips = self.spark.createDataFrame(model_input)
        priced = self.add_fare(trips, (params or {}).get("rate", 2.5))
        return self.name_zones(priced, self.zones).toPandas()


mlflow.models.set_model(SparkFloorModel())
