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
from IPython.core.magic_arguments import argument, parse_argstring

from kedro_mlflow_magic.errors import KedroMlflowMagicError, masked_url, one_line
from kedro_mlflow_magic.held_output import HeldOutput

if TYPE_CHECKING:
    import pandas as pd
    from kedro.io import DataCatalog
    from kedro.pipeline import Pipeline

    from kedro_mlflow_magic.project import ProjectDescription

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

VERBOSE_ARGUMENT = argument(
    "--verbose",
    action="store_true",
    help="show what the project's code prints (progress bars, logging, messages of the "
    "libraries it uses) as it comes, instead of holding it back and counting it",
)

NO_SESSION = "no Kedro project is loaded; run %reload_kedro <project path> first"


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the core's errors (``kedro_mlflow_magic.errors``) into one-line ``UsageError``s."""
    try:
        yield
    except KedroMlflowMagicError as error:
        raise UsageError(masked_url(one_line(str(error)))) from None


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

    @property
    def config_loader(self) -> Any:
        """The session's config loader: kedro-mlflow's settings are read through it, once."""
        return getattr(self.context, "config_loader", None)

    @property
    def description(self) -> ProjectDescription:
        """The loaded project as the core takes it: path, environment, config loader and
        pipelines (``docs/explanation/project-description.md``)."""
        from kedro_mlflow_magic.project import ProjectDescription

        return ProjectDescription.of_context(self.context, self.pipelines)

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


# Options whose value is a Python expression: taken unquoted, up to the next top-level option.
EXPRESSION_OPTIONS = ("--data", "--sample", "--signature")
PLACEHOLDER = "__kedro_mlflow_magic_expression_{}__"
OPENING, CLOSING = "([{", ")]}"
QUOTES = ('"""', "'''", '"', "'")


def option_starts_at(line: str, index: int) -> bool:
    """Whether a top-level `` --option`` begins at ``index`` (a space, two dashes, a letter)."""
    return (
        (index == 0 or line[index - 1].isspace())
        and line.startswith("--", index)
        and index + 2 < len(line)
        and line[index + 2].isalpha()
    )


def expression_end(line: str, start: int) -> int:
    """Where an unquoted expression that begins at ``start`` ends: at the next `` --option``
    outside brackets and strings, or at the end of the line."""
    depth, quote, index = 0, "", start
    while index < len(line):
        if quote:
            if line[index] == "\\":
                index += 1
            elif line.startswith(quote, index):
                index += len(quote) - 1
                quote = ""
        elif opening := next((mark for mark in QUOTES if line.startswith(mark, index)), ""):
            quote = opening
            index += len(quote) - 1
        elif line[index] in OPENING:
            depth += 1
        elif line[index] in CLOSING:
            depth = max(depth - 1, 0)
        elif depth == 0 and option_starts_at(line, index):
            return index
        index += 1
    return len(line)


def expression_option_at(line: str, index: int, options: tuple[str, ...]) -> str | None:
    if not option_starts_at(line, index):
        return None
    for option in options:
        after = index + len(option)
        if line.startswith(option, index) and (after == len(line) or line[after] in " \t="):
            return option
    return None


def split_expressions(
    line: str, options: tuple[str, ...] = EXPRESSION_OPTIONS
) -> tuple[str, dict[str, str]]:
    """Replace the value of each expression option with a placeholder that IPython's argument
    parser keeps whole; return the line and the expressions by placeholder. As %timeit takes its
    statement, ``--data pd.DataFrame({'a': [1, 2]})`` needs no quotes; quoted still works."""
    expressions: dict[str, str] = {}
    pieces: list[str] = []
    index = 0
    while index < len(line):
        option = expression_option_at(line, index, options)
        if option is None:
            pieces.append(line[index])
            index += 1
            continue
        end = expression_end(line, index + len(option) + 1)
        expression = line[index + len(option) + 1 : end].strip()
        if not expression:  # IPython's parser names the missing value
            pieces.append(line[index:end])
        else:
            placeholder = PLACEHOLDER.format(len(expressions))
            expressions[placeholder] = unquoted(expression)
            pieces.append(f"{option} {placeholder} ")
        index = end
    return "".join(pieces), expressions


def parse_line(magic: Any, line: str) -> Any:
    """The magic's arguments (declared with ``@magic_arguments``), each expression option's
    value as it was typed (see ``split_expressions``)."""
    rest, expressions = split_expressions(line)
    arguments = parse_argstring(magic, rest)
    for name, value in vars(arguments).items():
        if isinstance(value, str) and value in expressions:
            setattr(arguments, name, expressions[value])
    return arguments


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


def frame_from(
    expression: str,
    local_ns: Mapping[str, Any] | None,
    option: str,
    catalog: DataCatalog | None = None,
) -> pd.DataFrame:
    """``--sample``/``--data``: a notebook variable or expression, or (when ``catalog`` is given
    and the text is not a variable) the catalog dataset of that name, that must give a frame or
    an array (a pandas, Spark or polars DataFrame, a numpy array), else a
    ``UsageError``."""
    from kedro_mlflow_magic.build.signature import checked_input

    expression = unquoted(expression)
    if catalog is not None and not is_variable(expression, local_ns) and expression in catalog:
        value = load_dataset(catalog, expression, option)
    else:
        value = evaluate(expression, local_ns, option)
    with user_errors():
        return checked_input(value, name=f"{option} {expression!r}")


def bundle(value: Any) -> dict[str, Any]:
    """The forms of one of our results, formatted by us: IPython's formatters would go through
    Kedro's rich printer, which adds an empty output each time. A widget (the signature editor)
    brings its own bundle (its view, and text for frontends without widgets)."""
    widget_bundle = getattr(value, "_repr_mimebundle_", None)
    forms = dict(widget_bundle() or {}) if widget_bundle is not None else {}
    forms.setdefault("text/plain", str(value))
    html = getattr(value, "_repr_html_", None)
    if html is not None:
        forms["text/html"] = html()
    return forms


def show(value: Any) -> Any:
    """Display a result in the notebook (HTML and text forms) and return the display handle."""
    from IPython.display import display

    return display(bundle(value), raw=True, display_id=True)


def update(handle: Any, value: Any) -> None:
    """Replace what a ``show`` displayed (nothing to do outside a notebook)."""
    if handle is not None:
        handle.update(bundle(value), raw=True)


def quiet_rich_printer(shell: Any) -> None:
    """Kedro's notebook set-up installs rich's pretty printer as IPython's text formatter; in
    Jupyter each value it formats also leaves an empty output (rich's console flushes its empty
    buffer after capturing). Keep the text it captures, without that empty output: while it
    formats, the console writes its (empty) buffer as text, which shows nothing. Done once per
    shell; nothing else changes."""
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", {})
    formatter = formatters.get("text/plain")
    if formatter is None or type(formatter).__name__ != "RichFormatter":
        return
    rich_formatter = type(formatter)

    class QuietRichFormatter(rich_formatter):  # type: ignore[misc, valid-type]
        def __call__(self, value: Any) -> Any:
            from rich import get_console

            console = get_console()
            jupyter = console.is_jupyter
            console.is_jupyter = False
            try:
                return super().__call__(value)
            finally:
                console.is_jupyter = jupyter

    formatter.__class__ = QuietRichFormatter


@contextlib.contextmanager
def quiet_call(verbose: bool = False, report: bool = True) -> Iterator[HeldOutput]:
    """A magic's call: third-party logging, warnings and progress bars stay out of its cell
    (``kedro_mlflow_magic.quiet``); the rich printer's empty outputs too. What the project's
    code prints is held back (``held_output``, unless ``verbose``) and yielded; one line says
    who printed how much, after the call (``report``) or when it fails."""
    from kedro_mlflow_magic.held_output import held_back, shown
    from kedro_mlflow_magic.quiet import quiet_third_party

    quiet_rich_printer(get_ipython())
    held, failed = HeldOutput(), True
    try:
        with (
            shown() if verbose else contextlib.nullcontext(),
            quiet_third_party(),
            held_back() as held,
        ):
            yield held
        failed = False
    finally:
        if held and (report or failed):
            print(held.note(see="--verbose shows them"))
