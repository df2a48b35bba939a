"""A registered model with four versions, for the review and promotion tests: a base, then a
changed parameter default, then a changed node with a retrained artifact, then a new required
input column. Each version is logged from the project as it is at that step (its files
rewritten, its node module reloaded), into the store MLflow points at."""

from __future__ import annotations

import importlib
import pickle
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from projects import write_project

NODES = """\
import numpy as np
import pandas as pd


def train(settings):
    return dict(settings)


def score(customers, weights, threshold):
    value = customers["tenure"] * weights["tenure"] + customers["charges"] * weights["charges"]
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "score": value.round(4).to_numpy(),
            "label": np.where(value >= threshold, "churn", "stay"),
        }
    )
"""

# version 3: the node changed (a factor), and the weights retrained (below)
NODES_CHANGED = NODES.replace(
    'value = customers["tenure"] * weights["tenure"] + customers["charges"] * weights["charges"]',
    'value = 1.5 * (customers["tenure"] * weights["tenure"]\n'
    '                 + customers["charges"] * weights["charges"])',
)

# version 4: the node reads a new column, which the signature then requires
NODES_WITH_REGION = NODES_CHANGED.replace(
    "    return pd.DataFrame(",
    '    value = value + customers["region"].map({"north": 0.25}).fillna(0.0)\n'
    "    return pd.DataFrame(",
)

PIPELINES = """\
training = pipeline([node(nodes.train, "params:weights", "weights", name="train")])
inference = pipeline(
    [node(nodes.score, ["customers", "weights", "params:threshold"], "predictions", name="score")]
)
return {"training": training, "inference": inference, "__default__": training}
"""

CATALOG = """\
weights:
  type: pickle.PickleDataset
  filepath: data/06_models/weights.pkl
"""

PARAMETERS = """\
threshold: {threshold}
weights:
  tenure: {tenure}
  charges: 0.01
"""

WEIGHTS_FILE = Path("data") / "06_models" / "weights.pkl"
FIRST_WEIGHTS = {"tenure": 0.01, "charges": 0.01}
RETRAINED_WEIGHTS = {"tenure": 0.02, "charges": 0.01}


def customers(region: bool = False) -> pd.DataFrame:
    """Six customers whose scores (0.22 to 1.5) stay clear of the thresholds 0.5 and 0.6, so
    that versions 1 and 2 give the same labels on them."""
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6],
            "tenure": [2, 10, 30, 40, 5, 60],
            "charges": [20.0, 25.0, 50.5, 70.0, 30.0, 90.0],
        }
    )
    if region:
        frame["region"] = ["north", "south", "north", "east", "south", "north"]
    return frame


def v1_scores(frame: pd.DataFrame) -> pd.Series:
    """What versions 1 and 2 answer for ``score``: the first node with the first weights."""
    return (frame["tenure"] * 0.01 + frame["charges"] * 0.01).round(4)


def write_review_project(root: Path, package: str) -> Path:
    return write_project(
        root, NODES, PIPELINES, CATALOG, PARAMETERS.format(threshold=0.5, tenure=0.01),
        pickles={str(WEIGHTS_FILE): FIRST_WEIGHTS}, package=package,
    )  # fmt: skip


@dataclass
class ReviewModels:
    """The project and its registered model: ``uri(n)`` is ``models:/<name>/<n>``."""

    root: Path
    package: str
    name: str
    run_ids: dict[int, str]
    model_ids: dict[int, str]

    def uri(self, version: int) -> str:
        return f"models:/{self.name}/{version}"


def reload_nodes(package: str) -> None:
    """The project's node module as its file now is (the test process imported it before)."""
    importlib.invalidate_caches()
    for module in (f"{package}.nodes", f"{package}.pipeline_registry"):
        if module in sys.modules:
            importlib.reload(sys.modules[module])


def log_version(root: Path, package: str, name: str, sample: pd.DataFrame):
    """Log the project's inference pipeline as it is now as the next version of ``name``."""
    from sessions import load_project

    from kedro_mlflow_magic import log_pipeline_model

    reload_nodes(package)
    project = load_project(root)
    return log_pipeline_model(
        project.pipelines["inference"], project.catalog, "customers", sample,
        registered_model_name=name,
    )  # fmt: skip


def log_review_models(folder: Path) -> ReviewModels:
    """Write the project and log its four versions."""
    package = f"review_{uuid.uuid4().hex[:8]}"
    root = write_review_project(folder / package, package)
    name = f"review-{uuid.uuid4().hex[:8]}"
    infos = [log_version(root, package, name, customers())]
    parameters = root / "conf" / "base" / "parameters.yml"
    # 2: a changed parameter default
    parameters.write_text(PARAMETERS.format(threshold=0.6, tenure=0.01))
    infos.append(log_version(root, package, name, customers()))
    # 3: a changed node and a retrained artifact
    nodes = root / "src" / package / "nodes.py"
    nodes.write_text(textwrap.dedent(NODES_CHANGED))
    (root / WEIGHTS_FILE).write_bytes(pickle.dumps(RETRAINED_WEIGHTS))
    infos.append(log_version(root, package, name, customers()))
    # 4: a new required input column
    nodes.write_text(textwrap.dedent(NODES_WITH_REGION))
    infos.append(log_version(root, package, name, customers(region=True)))
    assert [info.registered_model_version for info in infos] == [1, 2, 3, 4]
    return ReviewModels(
        root, package, name,
        run_ids={index: info.run_id for index, info in enumerate(infos, 1)},
        model_ids={index: info.model_id for index, info in enumerate(infos, 1)},
    )  # fmt: skip
