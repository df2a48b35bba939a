"""The IPython magics (docs/explanation/behaviour.md#the-magics): parse the line, resolve names
in the notebook, call the core, display. ``%load_ext kedro_mlflow_magic`` calls
:func:`load_extension`; Kedro's ``%reload_kedro`` registers the same line magics from the
``kedro.line_magic`` entry points.

Nothing here imports MLflow or Kedro's session machinery: ``%load_ext`` stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from IPython.core.magic import needs_local_scope

from kedro_mlflow_magic.held_output import HeldOutput
from kedro_mlflow_magic.magics.inputs import kedro_inputs
from kedro_mlflow_magic.magics.log_model import kedro_log_model
from kedro_mlflow_magic.magics.predict import kedro_predict
from kedro_mlflow_magic.magics.review import kedro_diff, kedro_promote
from kedro_mlflow_magic.project import find_project_root
from kedro_mlflow_magic.tracking.warmup import wait_for_warm_up

__all__ = [
    "kedro_diff",
    "kedro_inputs",
    "kedro_log_model",
    "kedro_predict",
    "kedro_promote",
    "load_extension",
]

SIGNATURE_MODULE = "kedro_mlflow_magic.magics.signature"

if importlib.util.find_spec(SIGNATURE_MODULE) is not None:
    from kedro_mlflow_magic.magics.signature import kedro_signature

    __all__ += ["kedro_signature"]


def line_magics() -> dict[str, Callable[..., Any]]:
    """Our line magics by name (``%kedro_predict`` is also a cell magic)."""
    magics: dict[str, Callable[..., Any]] = {
        "kedro_inputs": kedro_inputs,
        "kedro_log_model": kedro_log_model,
        "kedro_predict": kedro_predict,
        "kedro_diff": kedro_diff,
        "kedro_promote": kedro_promote,
    }
    if "kedro_signature" in globals():
        magics["kedro_signature"] = globals()["kedro_signature"]
    return magics


def reload_kedro(line: str, local_ns: dict[str, Any] | None = None) -> None:
    """%reload_kedro [PATH] [--env ENV] [--params K=V,...] [--conf-source SOURCE]: Kedro's own
    magic, which loads the project's session, context, catalog and pipelines into the notebook.

    Kedro's IPython extension is imported on first use (it costs about half a second), then it
    replaces this stand-in: ``%reload_kedro?`` shows Kedro's full help from then on.
    """
    from IPython.core.getipython import get_ipython

    from kedro_mlflow_magic.quiet import quiet_project_load

    wait_for_warm_up()  # a new load must not import beside the last load's warm-up
    with quiet_project_load():  # Kedro logs its logging configuration when first imported
        register_kedro_magics(get_ipython())
    return kedro_reload_kedro()(line, local_ns)


def project_named_in(line: str) -> Path | None:
    """The project folder a ``%reload_kedro`` line names (its first positional argument), or
    the one the notebook's folder is in."""
    words = line.split()
    for index, word in enumerate(words):
        follows_option = (
            index > 0 and words[index - 1].startswith("-") and "=" not in words[index - 1]
        )
        if not word.startswith("-") and not follows_option:
            return find_project_root(Path(word).expanduser().resolve())
    return find_project_root(Path.cwd())


@contextlib.contextmanager
def session_start_errors(line: str) -> Iterator[None]:
    """A session start that MLflow 3 refuses because kedro-mlflow's mlflow.yml leaves the
    tracking URI to the file store: one line naming the file and the fix
    (docs/explanation/behaviour.md#beside-kedro-mlflow)."""
    from IPython.core.error import UsageError

    from kedro_mlflow_magic.tracking.store import file_store_refusal

    try:
        yield
    except Exception as error:
        explanation = file_store_refusal(error, project_named_in(line))
        if explanation is None:
            raise
        raise UsageError(explanation) from None


def kedro_reload_kedro() -> Callable[..., Any]:
    """Kedro's ``%reload_kedro``, quiet (one line of ours; ``--verbose`` shows what the project
    printed while it loaded), with kedro-mlflow's file-store refusal explained in one line
    (Kedro's help and arguments kept)."""
    from kedro.ipython import magic_reload_kedro

    from kedro_mlflow_magic.magics.loading import loading_project, without_verbose

    @functools.wraps(magic_reload_kedro)
    def wrapped(line: str, local_ns: dict[str, Any] | None = None) -> None:
        from IPython.core.getipython import get_ipython

        # the load's hooks (kedro-mlflow's) and quiet import MLflow: not beside a warm-up
        wait_for_warm_up()

        line, verbose = without_verbose(line)
        with session_start_errors(line), loading_project(get_ipython(), verbose) as held:
            magic_reload_kedro(line, local_ns)
        say_project_loaded(held)

    wrapped.__doc__ = f"{magic_reload_kedro.__doc__ or ''}{VERBOSE_HELP}"
    return needs_local_scope(wrapped)


VERBOSE_HELP = (
    "\n    kedro_mlflow_magic adds --verbose: what the project's code prints while it loads "
    "(its modules' prints, TensorFlow's messages) shows as it comes, instead of being held "
    "back and counted.\n"
)


def say_project_loaded(held: HeldOutput | None = None) -> None:
    """The one line that stands for Kedro's log lines of a project load: where the project is,
    what the notebook now holds, and how much the project's code printed meanwhile (held
    back). Kedro's rich printer, installed by the load, shows values without empty outputs."""
    from IPython.core.getipython import get_ipython

    from kedro_mlflow_magic.magics.common import quiet_rich_printer
    from kedro_mlflow_magic.magics.loading import loaded_line

    shell = get_ipython()
    quiet_rich_printer(shell)
    context = shell.user_ns.get("context")
    if hasattr(context, "project_path"):
        print(loaded_line(context.project_path, held or HeldOutput()))


def load_node(line: str) -> None:
    """%load_node NODE: Kedro's own magic, which writes a cell that loads a node's inputs and
    runs its function (Kedro's extension is imported on first use)."""
    from IPython.core.getipython import get_ipython
    from kedro.ipython import magic_load_node

    wait_for_warm_up()
    register_kedro_magics(get_ipython())
    return magic_load_node(line)


def register_kedro_magics(ipython: Any) -> None:
    """Register Kedro's own ``%reload_kedro`` and ``%load_node`` (importing Kedro's extension)."""
    from kedro.ipython import magic_load_node

    ipython.register_magic_function(kedro_reload_kedro(), "line", "reload_kedro")
    ipython.register_magic_function(magic_load_node, "line", "load_node")


def load_kedro_extension(ipython: Any) -> None:
    """Inside a Kedro project folder, Kedro's extension (which loads the project); elsewhere,
    light stand-ins for its magics, so that ``%load_ext`` does not pay for importing Kedro's
    session machinery before it is used."""
    if find_project_root(Path.cwd()) is not None:
        from kedro_mlflow_magic.magics.loading import loading_project

        try:
            # Kedro logs which logging configuration it uses when first imported
            with session_start_errors(""), loading_project(ipython) as held:
                import kedro.ipython

                kedro.ipython.load_ipython_extension(ipython)
        finally:
            register_kedro_magics(ipython)
        say_project_loaded(held)
        return
    ipython.register_magic_function(needs_local_scope(reload_kedro), "line", "reload_kedro")
    ipython.register_magic_function(load_node, "line", "load_node")


class SessionWatch:
    """After each cell, whether ``%reload_kedro`` (or anything) put a new Kedro session in the
    notebook: then MLflow and the project's tracking store are warmed up in the background, so
    that the first log is about as fast as the next ones."""

    def __init__(self, ipython: Any) -> None:
        self.ipython = ipython
        self.session: Any = None

    def __call__(self, *_result: Any) -> None:
        session = self.ipython.user_ns.get("session")
        if session is None or session is self.session or not hasattr(session, "load_context"):
            return
        self.session = session
        context = self.ipython.user_ns.get("context")
        if not hasattr(context, "project_path"):
            return
        from kedro.framework.project import PACKAGE_NAME

        from kedro_mlflow_magic.magics.common import kedro_state
        from kedro_mlflow_magic.tracking.warmup import warm_in_background

        warm_in_background(kedro_state().description, PACKAGE_NAME)


def wait_before_the_cell(*_info: Any) -> None:
    """Before each cell: a warm-up started after the last cell finishes first, so that it runs
    only while the kernel is idle. The cell's own code (a ``session.run()``, an ``import
    polars``) may import what the warm-up is importing, and two threads importing one module at
    once fail with "partially initialized module". It is not hurried (its steps are all local):
    a log in a later cell finds everything ready."""
    wait_for_warm_up(hurry=False)


def load_extension(ipython: Any) -> None:
    """``%load_ext kedro_mlflow_magic``: Kedro's magics (its ``%reload_kedro`` wrapped, also in
    a ``kedro jupyter`` notebook that loaded Kedro's extension first), then ours."""
    watch = SessionWatch(ipython)
    ipython.events.register("post_run_cell", watch)
    if wait_before_the_cell not in ipython.events.callbacks["pre_run_cell"]:
        ipython.events.register("pre_run_cell", wait_before_the_cell)
    for name, function in line_magics().items():
        ipython.register_magic_function(needs_local_scope(function), "line", name)
    ipython.register_magic_function(needs_local_scope(kedro_predict), "cell", "kedro_predict")
    # last: loading the project may fail, our magics stay; inside a project, the watch sees its
    # session after this cell
    load_kedro_extension(ipython)
