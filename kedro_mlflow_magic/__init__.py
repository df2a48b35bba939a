"""Log Kedro pipelines as self-contained MLflow pyfunc models, from a notebook.

The public API (SPEC 5). MLflow is imported only when a function needs it, so that
``%load_ext kedro_mlflow_magic`` stays fast.
"""

from __future__ import annotations

from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

from kedro_mlflow_magic.errors import (
    KedroMlflowMagicError,
    OutputNotChosenError,
    PackagingError,
    ParameterError,
    ParityError,
    SampleError,
    SessionMismatchError,
    UnknownDataInputError,
)
from kedro_mlflow_magic.roles import Artifact, PipelineInputs, Problem, inspect_pipeline

__version__ = _version("kedro-mlflow-magic")

if TYPE_CHECKING:
    from kedro_mlflow_magic.packaging import log_pipeline_model
    from kedro_mlflow_magic.parity import compare_with_session

__all__ = [
    "Artifact",
    "KedroMlflowMagicError",
    "OutputNotChosenError",
    "PackagingError",
    "ParameterError",
    "ParityError",
    "PipelineInputs",
    "Problem",
    "SampleError",
    "SessionMismatchError",
    "UnknownDataInputError",
    "compare_with_session",
    "inspect_pipeline",
    "load_ipython_extension",
    "log_pipeline_model",
]


def __getattr__(name: str) -> Any:
    if name == "log_pipeline_model":
        from kedro_mlflow_magic.packaging import log_pipeline_model

        return log_pipeline_model
    if name == "compare_with_session":
        from kedro_mlflow_magic.parity import compare_with_session

        return compare_with_session
    raise AttributeError(f"module 'kedro_mlflow_magic' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    from kedro_mlflow_magic.magics import load_extension

    load_extension(ipython)
