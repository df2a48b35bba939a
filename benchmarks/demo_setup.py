"""The benchmark's Kedro project: the shipped demo, trained, plus a ~25 MB random forest.

The forest is a second catalog entry (``forest``); the large pipeline is the demo's inference
pipeline with its ``classifier`` input mapped to it, so both models run the same node functions.
"""

from __future__ import annotations

import importlib
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from kedro_mlflow_magic.demo import create_demo_project

PACKAGE = "churn_demo"
FOREST_ROWS = 16_000  # with 40 fully grown trees, the pickle is ~25 MB
FOREST_TREES = 40
FOREST_ENTRY = """
# Added by the benchmark: the large classifier.
forest:
  type: pickle.PickleDataset
  filepath: data/06_models/forest.pkl
"""
# kedro-mlflow's hook would take over MLflow's tracking URI in every session of this process.
NO_PLUGIN_HOOKS = '\nDISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow", "kedro_mlflow")\n'


@dataclass
class BenchProject:
    """The opened project: what the contenders are built from."""

    root: Path
    catalog: Any
    pipelines: dict[str, Any]
    nodes: ModuleType

    def model_file(self, name: str) -> str:
        return str(self.root / "data" / "06_models" / f"{name}.pkl")

    def customers(self, rows: int, seed: int = 11) -> pd.DataFrame:
        """Customers to score (the data input), made by the demo's own generator."""
        return self.nodes.generate_customers(rows, seed).drop(columns=["churned"])


def create_project(folder: Path) -> Path:
    """Write the demo project with the forest's catalog entry, and no plugin hooks."""
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    root = create_demo_project(folder, PACKAGE)
    with open(root / "conf" / "base" / "catalog.yml", "a", encoding="utf-8") as catalog:
        catalog.write(FOREST_ENTRY)
    with open(root / "src" / PACKAGE / "settings.py", "a", encoding="utf-8") as settings:
        settings.write(NO_PLUGIN_HOOKS)
    return root


def train(root: Path) -> None:
    """Run the demo's training pipeline, then fit the forest on more customers and save it."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from sklearn.ensemble import RandomForestClassifier

    bootstrap_project(root)
    with KedroSession.create(project_path=root) as session:
        session.run(pipeline_name="training")
    nodes = importlib.import_module(f"{PACKAGE}.nodes")
    with open(root / "data" / "06_models" / "encoder.pkl", "rb") as file:
        encoder = pickle.load(file)
    customers = nodes.generate_customers(FOREST_ROWS, 7)
    features = nodes.encode_features(customers, encoder)
    forest = RandomForestClassifier(n_estimators=FOREST_TREES, random_state=0)
    forest.fit(features, customers["churned"])
    with open(root / "data" / "06_models" / "forest.pkl", "wb") as file:
        pickle.dump(forest, file)


def open_project(root: Path) -> BenchProject:
    """Open the trained project in a real KedroSession; add the forest pipeline."""
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro.pipeline import pipeline

    bootstrap_project(root)
    session = KedroSession.create(project_path=root)
    catalog = session.load_context().catalog
    inference = pipelines["inference"]
    chosen = {
        "small": inference,
        "large": pipeline(inference, inputs={"classifier": "forest"}),
    }
    nodes = importlib.import_module(f"{PACKAGE}.nodes")
    return BenchProject(root, catalog, chosen, nodes)


def direct_call(project: BenchProject, classifier_name: str) -> Callable[[Any], Any]:
    """The two node functions called on the session's objects: the baseline."""
    catalog, nodes = project.catalog, project.nodes
    encoder, classifier = catalog.load("encoder"), catalog.load(classifier_name)
    threshold, scoring = catalog.load("params:threshold"), catalog.load("params:scoring")

    def call(frame: Any) -> Any:
        features = nodes.encode_features(frame, encoder)
        return nodes.score_customers(frame, features, classifier, threshold, scoring)

    return call
