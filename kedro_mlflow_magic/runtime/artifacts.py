"""Artifacts at load time: each dataset re-created from its catalog type and load settings,
its path pointing into the model, and loaded once."""

from __future__ import annotations

import importlib
import os
from typing import Any

from kedro.io import AbstractDataset
from mlflow.exceptions import MlflowException

from .manifest import ArtifactEntry


def load_artifact(entry: ArtifactEntry, local_folder: str) -> Any:
    """Re-create an artifact's dataset from its catalog type and load arguments, its path
    pointing into the model, and load it; an MLflow model with its own flavor, from its copy
    inside this model (it never reaches the store it came from)."""
    if entry.get("flavor"):
        return load_mlflow_model(entry, local_folder)
    config = dict(entry["config"])
    config["type"] = entry["type"]
    location = (
        local_folder if entry["file"] in ("", ".") else os.path.join(local_folder, entry["file"])
    )
    config[entry["path_key"]] = location
    try:
        dataset = AbstractDataset.from_config(entry["dataset"], config)
        return dataset.load()
    except Exception as error:
        raise MlflowException(
            f"could not load artifact '{entry['dataset']}' ({entry['type']}) from {location}: "
            f"{type(error).__name__}: {error}"
        ) from error


def load_mlflow_model(entry: ArtifactEntry, local_folder: str) -> Any:
    """``mlflow.<flavor>.load_model`` on the MLflow model's copy inside this model."""
    flavor = entry["flavor"]
    location = os.path.join(local_folder, entry["file"])
    try:
        return importlib.import_module(flavor).load_model(
            location, **entry["config"].get("load_args", {})
        )
    except Exception as error:
        raise MlflowException(
            f"could not load artifact '{entry['dataset']}' (an MLflow model, {flavor}) from "
            f"{location}: {type(error).__name__}: {error}"
        ) from error
