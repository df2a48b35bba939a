"""kedro-mlflow's path, for comparison: its KedroPipelineModel, logged as its hook logs it.

kedro-mlflow registers a Kedro hook through an entry point, which takes over MLflow's tracking
URI in every KedroSession of the environment; so it is best installed in a private folder
(see README.md), which this module puts on ``sys.path`` when it is not installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
import tempfile
from pathlib import Path
from typing import Any

PRIVATE_SITE = Path(__file__).parent / ".kedro-mlflow-site"
INSTALL_HINT = (
    f'pip install --no-deps --target {PRIVATE_SITE} "kedro-mlflow>=2,<3"'
    " (its dependencies are already ours)"
)


def find_kedro_pipeline_model() -> tuple[type | None, str]:
    """kedro-mlflow's KedroPipelineModel and a description, or None and why it is missing."""
    if PRIVATE_SITE.is_dir() and str(PRIVATE_SITE) not in sys.path:
        sys.path.append(str(PRIVATE_SITE))
    try:
        module = importlib.import_module("kedro_mlflow.mlflow")
    except Exception as error:  # any failure to import is a reason to report, not to crash
        return (
            None,
            f"kedro-mlflow is not importable ({type(error).__name__}: {error}); {INSTALL_HINT}",
        )
    version = importlib.metadata.version("kedro-mlflow")
    return module.KedroPipelineModel, f"kedro-mlflow {version}"


def log_kedro_mlflow_model(
    model_class: type, pipeline: Any, catalog: Any, input_name: str, sample: Any, name: str
) -> str:
    """Log ``pipeline`` the way kedro-mlflow's hook does at the end of a training run
    (``signature="auto"``: input from the data, every parameter plus ``runner``)."""
    import mlflow
    from mlflow.models import infer_signature

    with tempfile.TemporaryDirectory() as folder:
        model = model_class(pipeline=pipeline, catalog=catalog, input_name=input_name)
        artifacts = model.extract_pipeline_artifacts(parameters_saving_folder=Path(folder))
        parameters = {
            dataset[len("params:") :]: catalog.load(dataset)
            for dataset in pipeline.inputs()
            if dataset.startswith("params:")
        } | {"runner": "SequentialRunner"}
        signature = infer_signature(model_input=sample, params=parameters)
        info = mlflow.pyfunc.log_model(
            name=name, python_model=model, artifacts=artifacts, signature=signature
        )
    return info.model_uri
