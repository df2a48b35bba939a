"""Log Kedro pipelines as self-contained MLflow pyfunc models, from a notebook.

The public API (docs/explanation/behaviour.md#the-python-api). MLflow, Kedro and pandas are
imported only when a name that needs them is first used, so that ``import kedro_mlflow_magic``
and ``%load_ext kedro_mlflow_magic`` stay fast.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import version as _distribution_version
from typing import TYPE_CHECKING, Any

from kedro_mlflow_magic import errors
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
from kedro_mlflow_magic.options import LogOptions
from kedro_mlflow_magic.project import ProjectDescription

if TYPE_CHECKING:
    from kedro_mlflow_magic.inspect.roles import Artifact, PipelineInputs, Problem, inspect_pipeline
    from kedro_mlflow_magic.prepared import (
        LoggedModel,
        PreparedPipeline,
        log_pipeline_model,
        prepare_pipeline,
    )
    from kedro_mlflow_magic.tracking.profile import Profile, profile_model
    from kedro_mlflow_magic.tracking.promotion import Promotion, promote_model
    from kedro_mlflow_magic.verify.environment_check import EnvironmentCheck, check_environment
    from kedro_mlflow_magic.verify.parity import Comparison, compare_with_session
    from kedro_mlflow_magic.verify.review import ModelDiff, compare_models

__version__ = _distribution_version("kedro-mlflow-magic")

# Names that import MLflow, or Kedro and pandas, each imported from its module on first use.
LAZY_NAMES = {
    "Artifact": "kedro_mlflow_magic.inspect.roles",
    "PipelineInputs": "kedro_mlflow_magic.inspect.roles",
    "Problem": "kedro_mlflow_magic.inspect.roles",
    "inspect_pipeline": "kedro_mlflow_magic.inspect.roles",
    "Comparison": "kedro_mlflow_magic.verify.parity",
    "compare_with_session": "kedro_mlflow_magic.verify.parity",
    "EnvironmentCheck": "kedro_mlflow_magic.verify.environment_check",
    "check_environment": "kedro_mlflow_magic.verify.environment_check",
    "LoggedModel": "kedro_mlflow_magic.build.logged",
    "PreparedPipeline": "kedro_mlflow_magic.prepared",
    "log_pipeline_model": "kedro_mlflow_magic.prepared",
    "prepare_pipeline": "kedro_mlflow_magic.prepared",
    "ModelDiff": "kedro_mlflow_magic.verify.review",
    "compare_models": "kedro_mlflow_magic.verify.review",
    "Promotion": "kedro_mlflow_magic.tracking.promotion",
    "promote_model": "kedro_mlflow_magic.tracking.promotion",
    "Profile": "kedro_mlflow_magic.tracking.profile",
    "profile_model": "kedro_mlflow_magic.tracking.profile",
}

__all__ = [
    "Artifact",
    "Comparison",
    "EnvironmentCheck",
    "KedroMlflowMagicError",
    "LogOptions",
    "LoggedModel",
    "ModelDiff",
    "OutputNotChosenError",
    "PackagingError",
    "ParameterError",
    "ParityError",
    "PipelineInputs",
    "PreparedPipeline",
    "Problem",
    "Profile",
    "ProjectDescription",
    "Promotion",
    "SampleError",
    "SessionMismatchError",
    "UnknownDataInputError",
    "__version__",
    "check_environment",
    "compare_models",
    "compare_with_session",
    "errors",
    "inspect_pipeline",
    "load_ipython_extension",
    "log_pipeline_model",
    "prepare_pipeline",
    "profile_model",
    "promote_model",
]


def __getattr__(name: str) -> Any:
    if name in LAZY_NAMES:
        from kedro_mlflow_magic.tracking.warmup import wait_for_warm_up

        wait_for_warm_up()  # a notebook's warm-up may be importing that very module
        return getattr(importlib.import_module(LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'kedro_mlflow_magic' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def show_roles_view(inputs: PipelineInputs) -> None:
    """Display ``PipelineInputs`` in a notebook as the roles view: the picture of the pipeline
    above the table; the table alone where ipywidgets is missing."""
    from IPython.display import display

    try:
        from kedro_mlflow_magic.widgets.roles_view import roles_view
    except ImportError:
        roles_view = None
    if roles_view is None or inputs.pipeline is None:
        display({"text/html": inputs._repr_html_(), "text/plain": str(inputs)}, raw=True)
        return
    display(roles_view(inputs.pipeline, inputs))


def register_notebook_views(ipython: Any) -> None:
    """Let IPython show the core's results through their widget views (the core itself knows
    no widgets). Registered by type name, so nothing is imported until one is displayed."""
    formatter = ipython.display_formatter.ipython_display_formatter
    formatter.for_type_by_name(
        "kedro_mlflow_magic.inspect.roles", "PipelineInputs", show_roles_view
    )


def load_ipython_extension(ipython: Any) -> None:
    from kedro_mlflow_magic.magics import load_extension

    register_notebook_views(ipython)
    load_extension(ipython)


if "IPython" in sys.modules:  # imported in a notebook: show results there as views
    _shell = sys.modules["IPython"].get_ipython()
    if _shell is not None:
        register_notebook_views(_shell)
