"""Loading a Kedro project into the notebook (``%reload_kedro``, ``%load_ext`` inside a project)
as one line of ours (docs/guides/notebook.md#quiet-cells): Kedro's log lines and the deprecation
warnings of its dependencies stay out, and so does what the project's own code prints while it
is imported (TensorFlow's C++ messages at import, a module's prints), held back and counted in
that line; ``%reload_kedro --verbose`` shows it. Afterwards Kedro logs as the project
configures it, and the values a cell ends with show without the empty output of Kedro's rich
printer."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from typing import Any

from kedro_mlflow_magic.held_output import HeldOutput, held_back, shown

VERBOSE_WORD = re.compile(r"(^|\s)--verbose(?=\s|$)")
# Kedro 1.7 calls OmegaConf's register_new_resolver, which OmegaConf 2.4 deprecates: every
# session start (``session.run``) warns three times, and nothing in a project can change it
KEDRO_RESOLVER_WARNING = r"register_new_resolver\(\) is deprecated"
KEDRO_CONFIG_MODULE = r"kedro\.config\."


def without_verbose(line: str) -> tuple[str, bool]:
    """A ``%reload_kedro`` line without our ``--verbose`` (Kedro's parser does not know it),
    and whether it was there."""
    stripped = VERBOSE_WORD.sub(" ", line)
    return stripped.strip(), stripped != line


def load_pipelines(ipython: Any) -> None:
    """Import the project's pipelines now, inside the load (Kedro reads its pipeline registry,
    and so imports the node modules, on first use): what those modules print at import is held
    with the rest. A registry that fails says so where the pipelines are first used, as in
    plain Kedro."""
    pipelines = ipython.user_ns.get("pipelines") if ipython is not None else None
    with contextlib.suppress(Exception):
        list(pipelines or ())


def hide_kedro_resolver_warnings() -> None:
    """Kedro's own deprecation warning of OmegaConf's resolver API (three at every session
    start), which no project can act on; once."""
    for action, message, *_rest in warnings.filters:
        if action == "ignore" and getattr(message, "pattern", None) == KEDRO_RESOLVER_WARNING:
            return
    warnings.filterwarnings(
        "ignore", message=KEDRO_RESOLVER_WARNING, category=UserWarning, module=KEDRO_CONFIG_MODULE
    )


@contextlib.contextmanager
def loading_project(ipython: Any, verbose: bool = False) -> Iterator[HeldOutput]:
    """The load of a project, quiet (``quiet_project_load``): what the project's code prints
    meanwhile is held (everything: only the project's code runs), unless ``verbose``."""
    from kedro_mlflow_magic.quiet import quiet_project_load

    hide_kedro_resolver_warnings()
    with (
        shown() if verbose else contextlib.nullcontext(),
        quiet_project_load(),
        held_back(everything=True) as held,
    ):
        yield held
        load_pipelines(ipython)


def loaded_line(project_path: Any, held: HeldOutput) -> str:
    """The one line a project load shows."""
    line = (
        f"Loaded the Kedro project in {project_path}: session, context, catalog and pipelines "
        "are defined"
    )
    if held:
        printed = held.described(outside="its code printed {lines}")
        line += f"; {printed} while loading, held back (%reload_kedro --verbose shows it)"
    return line
