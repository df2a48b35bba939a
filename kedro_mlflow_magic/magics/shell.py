"""Helpers shared by the magics: the session ``%reload_kedro`` loaded, expressions evaluated in
the notebook's namespace, and our errors turned into one-line ``UsageError``s.

Kept light on imports: ``%load_ext`` imports this module, and it must not pull in MLflow.
"""

from __future__ import annotations

import contextlib
import keyword
from collections import ChainMap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.getipython import get_ipython
from IPython.core.magic_arguments import argument

from kedro_mlflow_magic.errors import KedroMlflowMagicError, one_line

if TYPE_CHECKING:
    import pandas as pd
    from kedro.io import DataCatalog
    from kedro.pipeline import Pipeline

# Arguments several magics declare alike (an IPython argument decorator can be applied again).
PIPELINE_ARGUMENT = argument(
    "pipeline", help="name of a registered pipeline (a key of `pipelines`)"
)
DATA_INPUT_ARGUMENT = argument(
    "--input",
    dest="data_input",
    metavar="NAME",
    default=None,
    help="the data input, the free input the model predicts on "
    "(default: the only free input that is neither a parameter nor an artifact)",
)
FREEZE_ARGUMENT = argument(
    "--freeze",
    nargs="+",
    action="extend",
    default=[],
    metavar="NAME",
    help="inputs to ship with their current value (pickled), e.g. a MemoryDataset",
)

NO_SESSION = "no Kedro project is loaded; run %reload_kedro <project path> first"


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the core's errors (``kedro_mlflow_magic.errors``) into one-line ``UsageError``s."""
    try:
        yield
    except KedroMlflowMagicError as error:
        raise UsageError(one_line(str(error))) from None


def namespace(local_ns: Mapping[str, Any] | None) -> ChainMap[str, Any]:
    """The names a magic sees: the caller's local scope first, then the notebook's globals."""
    shell = get_ipython()
    user_ns = shell.user_ns if shell is not None else {}
    return ChainMap(dict(local_ns or {}), user_ns)


@dataclass(frozen=True)
class KedroState:
    """What ``%reload_kedro`` put in the notebook: the session, its context, catalog and
    pipelines."""

    session: Any
    context: Any
    catalog: DataCatalog
    pipelines: Mapping[str, Pipeline]

    @property
    def project_path(self) -> Path:
        return Path(self.context.project_path)

    def pipeline(self, name: str) -> Pipeline:
        """The registered pipeline called ``name``; an unknown name lists the known ones."""
        from kedro_mlflow_magic.project import pipeline_named

        with user_errors():
            return pipeline_named(self.pipelines, name)


def kedro_state(local_ns: Mapping[str, Any] | None = None) -> KedroState:
    """The session ``%reload_kedro`` loaded (its ``session``, ``context``, ``catalog`` and
    ``pipelines`` variables); a ``UsageError`` that says to run it when there is none."""
    names = namespace(local_ns)
    session, context = names.get("session"), names.get("context")
    if (
        session is None
        or not hasattr(session, "load_context")
        or not hasattr(context, "project_path")
    ):
        raise UsageError(NO_SESSION)
    catalog = names.get("catalog")
    if not (hasattr(catalog, "load") and hasattr(catalog, "to_config")):
        catalog = context.catalog
    pipelines = names.get("pipelines")
    if not isinstance(pipelines, Mapping):
        from kedro.framework.project import pipelines
    return KedroState(session, context, catalog, pipelines)


def unquoted(text: str) -> str:
    """An argument without the quotes that protected its spaces (IPython's magic-argument
    parser keeps them): ``--sample "df[df.age > 30]"`` gives ``df[df.age > 30]``."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def evaluate(expression: str, local_ns: Mapping[str, Any] | None, option: str) -> Any:
    """Evaluate a Python expression in the notebook's namespace; failures name the option."""
    expression = unquoted(expression)
    shell = get_ipython()
    user_ns = shell.user_ns if shell is not None else {}
    try:
        return eval(expression, user_ns, dict(local_ns or {}))
    except Exception as error:
        raise UsageError(
            f"{option} {expression!r} failed: {type(error).__name__}: {one_line(str(error))}; "
            "give a Python expression that works in this notebook"
        ) from None


def is_variable(text: str, local_ns: Mapping[str, Any] | None) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text) and text in namespace(local_ns)


def load_dataset(catalog: DataCatalog, name: str, option: str) -> Any:
    """Load a catalog dataset; a failure names the dataset and the option."""
    from kedro_mlflow_magic.project import load_sample_dataset

    with user_errors():
        return load_sample_dataset(catalog, name, option)


def value_of(
    expression: str,
    local_ns: Mapping[str, Any] | None,
    option: str,
    catalog: DataCatalog | None = None,
) -> Any:
    """A notebook variable or expression, or (when ``catalog`` is given and the text is not a
    variable) the catalog dataset of that name."""
    if catalog is not None and not is_variable(expression, local_ns) and expression in catalog:
        return load_dataset(catalog, expression, option)
    return evaluate(expression, local_ns, option)


def as_frame(value: Any, expression: str, option: str) -> pd.DataFrame:
    """The value as a pandas DataFrame (arrays and Spark frames accepted), or a ``UsageError``."""
    from kedro_mlflow_magic.signature import to_frame

    with user_errors():
        return to_frame(value, name=f"{option} {expression!r}")


def frame_from(
    expression: str,
    local_ns: Mapping[str, Any] | None,
    option: str,
    catalog: DataCatalog | None = None,
) -> pd.DataFrame:
    """``--sample``/``--data``: an expression (or catalog dataset) that must give a frame."""
    expression = unquoted(expression)
    return as_frame(value_of(expression, local_ns, option, catalog), expression, option)


def show(value: Any) -> Any:
    """Display a result in the notebook (HTML and text forms) and return the display handle."""
    from IPython.display import display

    return display(value, display_id=True)


def update(handle: Any, value: Any) -> None:
    """Replace what a ``show`` displayed (nothing to do outside a notebook)."""
    if handle is not None:
        handle.update(value)
