"""``LogOptions``: the options of one log, as every face passes them to ``PreparedPipeline.log``.

The magic, the shell command, the hook, the signature editor and ``log_pipeline_model`` each
parse their own spelling of these options into one ``LogOptions``, validated once when it is
built, before any work. A new option is a new field here (with its check in ``__post_init__``)
and a line in each face's parser: ``log_options_from`` in ``magics/log_arguments.py`` (plus its
``argument``), the ``log`` command in ``cli/pipelines.py`` (plus its ``click.option``), and
``HookOptions.log_options`` in ``hooks/hook_options.py`` (plus ``ENVIRONMENT_OPTIONS`` when
``mlflow_magic.yml`` may set it); ``log_pipeline_model`` and ``PreparedPipeline.log`` take every
field as a keyword already. The log reads it from the object it is handed. The project a log
belongs to travels beside it as one ``ProjectDescription`` (``project.py``).

Importing this module imports neither MLflow nor Kedro (the hook's module imports it in every
``kedro`` command).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kedro_mlflow_magic.build.requirements import requirement_added
from kedro_mlflow_magic.errors import RegistrationError, SampleError

if TYPE_CHECKING:
    from mlflow.models import ModelSignature


@dataclass(frozen=True)
class LogOptions:
    """How one pipeline is logged.

    ``name``: the model's name in the run. ``signature``: the signature to log (None: inferred
    from the sample). ``example_rows``: rows of the sample in the input example.
    ``experiment``: the experiment of a new run (None: the active one, else the project's).
    ``registered_model_name`` and ``alias``: register the verified model, and point the alias
    at its version. ``run_id``: log into this run; ``run_name``: the name of a new run.
    ``extra_requirements``: requirements added by hand to those the scan finds (a bare name is
    pinned to the version installed here when the options are built; a specifier is kept).
    ``trace``: the model records an MLflow trace of every predict, a span per node.
    """

    name: str = "model"
    signature: ModelSignature | None = None
    example_rows: int = 5
    experiment: str | None = None
    registered_model_name: str | None = None
    alias: str | None = None
    run_id: str | None = None
    run_name: str | None = None
    extra_requirements: tuple[str, ...] = ()
    trace: bool = False

    def __post_init__(self) -> None:
        """Options that are wrong whatever the pipeline: refused here, before any work."""
        added = names(self.extra_requirements)
        # frozen: the pinned form replaces what was given (pinning it again changes nothing)
        object.__setattr__(self, "extra_requirements", tuple(map(requirement_added, added)))
        if self.example_rows < 1:
            raise SampleError(f"example_rows must be at least 1, not {self.example_rows}")
        if self.alias and not self.registered_model_name:
            raise RegistrationError(self.alias)

    def but(self, **changes: Any) -> LogOptions:
        """These options with ``changes`` (checked again); the same object without any."""
        return dataclasses.replace(self, **changes) if changes else self


def names(values: str | Iterable[str]) -> tuple[str, ...]:
    """Names given as one ``str`` or as several: ``"a"``, ``["a", "b"]`` (``freeze``,
    ``include``, ``extra_requirements``), alike in every face."""
    return (values,) if isinstance(values, str) else tuple(values)


def log_options(options: LogOptions | None = None, **changes: Any) -> LogOptions:
    """``options`` (the defaults when None) with the keyword ``changes``: what
    ``PreparedPipeline.log(options, name=..., ...)`` logs with."""
    return (options or LogOptions()).but(**changes)
