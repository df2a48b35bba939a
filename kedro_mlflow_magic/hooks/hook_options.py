"""The options of ``LogModelHook``, from ``settings.py`` and from ``conf/<env>/mlflow_magic.yml``,
checked alike: each value by the hook's own rules here, then together by ``LogOptions``. A bad
value is one line naming the key and where it was set (``HookOptionError``).

Importing this module imports neither MLflow nor Kedro's session machinery (settings.py imports
the hook for every ``kedro`` command)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro_mlflow_magic.errors import HookOptionError, KedroMlflowMagicError, one_line
from kedro_mlflow_magic.options import names

if TYPE_CHECKING:
    from kedro_mlflow_magic.options import LogOptions

ON_ERROR = ("fail", "warn")
# conf/<env>/mlflow_magic.yml, key `log_model`: options that differ by environment
CONFIG_KEY = "mlflow_magic"
CONFIG_PATTERNS = ["mlflow_magic*", "mlflow_magic*/**"]
ENVIRONMENT_OPTIONS = (
    "output", "name", "registered_model_name", "alias", "experiment", "example_rows",
    "extra_requirements", "on_error", "promote_to", "trace",
)  # fmt: skip
TEXTS = ("after", "pipeline", "data_input", "output", "name", "registered_model_name", "alias")
TEXTS += ("experiment", "promote_to")
LISTS = ("freeze", "include", "extra_requirements")


@dataclass(frozen=True)
class OptionSource:
    """Where options were set, and how a key is named there: ``settings.py`` and
    ``LogModelHook(on_error=...)``, or ``conf/prod/mlflow_magic.yml`` and ``log_model.on_error``."""

    place: str
    key_format: str

    def key(self, key: str) -> str:
        return self.key_format.format(key=key)

    def error(self, message: str) -> HookOptionError:
        return HookOptionError(f"{self.place}: {one_line(message)}")


SETTINGS = OptionSource("settings.py", "LogModelHook({key}=...)")


@dataclass(frozen=True)
class HookOptions:
    """What the hook logs, after which run, and what a failure does (see ``LogModelHook``)."""

    after: str
    pipeline: str
    data_input: str | None = None
    sample: Any = None
    output: str | None = None
    name: str = "model"
    registered_model_name: str | None = None
    alias: str | None = None
    freeze: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    experiment: str | None = None
    example_rows: int = 5
    extra_requirements: tuple[str, ...] = ()
    on_error: str = "fail"
    promote_to: str | None = None
    trace: bool = False

    def log_options(self) -> LogOptions:
        """The options of the log, checked by ``LogOptions`` (an alias needs a registered
        model, a requirement must be one...); promoting needs a registered model too."""
        from kedro_mlflow_magic.errors import RegistrationError
        from kedro_mlflow_magic.options import LogOptions

        if self.promote_to and not self.registered_model_name:
            raise RegistrationError(self.promote_to)

        return LogOptions(
            name=self.name, example_rows=self.example_rows, experiment=self.experiment,
            registered_model_name=self.registered_model_name, alias=self.alias,
            extra_requirements=self.extra_requirements, trace=self.trace,
        )  # fmt: skip

    def but(self, changes: Mapping[str, Any], source: OptionSource) -> HookOptions:
        """These options with ``changes`` (set in ``source``), each checked."""
        return dataclasses.replace(self, **checked_values(changes, source))


def checked_values(values: Mapping[str, Any], source: OptionSource) -> dict[str, Any]:
    """Each value checked by the hook's own rules (a list of names may be given as one str, as
    ``LogOptions`` takes it); a wrong one is a ``HookOptionError`` naming its key."""
    checked = dict(values)
    for key, value in values.items():
        if key in TEXTS and value is not None and not isinstance(value, str):
            raise source.error(f"{source.key(key)} must be a name, not {value!r}")
        if key in LISTS:
            if isinstance(value, str) or (
                isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)
            ):
                checked[key] = names(value)
            else:
                raise source.error(f"{source.key(key)} must be a name or a list of names")
    if "example_rows" in values:
        rows = values["example_rows"]
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            key = source.key("example_rows")
            raise source.error(f"{key} must be a whole number of rows, at least 1, not {rows!r}")
    if "trace" in values and not isinstance(values["trace"], bool):
        raise source.error(f"{source.key('trace')} must be true or false, not {values['trace']!r}")
    if "on_error" in values and values["on_error"] not in ON_ERROR:
        raise source.error(
            f"{source.key('on_error')} must be 'fail' or 'warn', not {values['on_error']!r}"
        )
    return checked


def checked_together(options: HookOptions, source: OptionSource) -> LogOptions:
    """``options.log_options()``, its refusal named after ``source``."""
    try:
        return options.log_options()
    except KedroMlflowMagicError as error:
        raise source.error(str(error)) from None


def environment_source(context: Any, keys: list[str]) -> OptionSource:
    """The mlflow_magic file of the run's environment that sets ``keys``: the environment's own
    when one of its files does (Kedro reads it over conf/base), else conf/base's."""
    import yaml

    loader = context.config_loader
    conf = Path(getattr(loader, "conf_source", Path(context.project_path) / "conf"))
    envs = [getattr(loader, "env", None) or getattr(loader, "default_run_env", "local")]
    envs.append(getattr(loader, "base_env", "base"))
    for env in envs:
        for path in sorted((conf / env).glob("mlflow_magic*")):
            if path.is_file():
                settings = yaml.safe_load(path.read_text(encoding="utf-8"))
                section = settings.get("log_model") if isinstance(settings, dict) else None
                if isinstance(section, dict) and set(keys) & set(section):
                    return OptionSource(str(path.relative_to(conf.parent)), "log_model.{key}")
    return OptionSource(f"{conf.name}/{envs[0]}/mlflow_magic.yml", "log_model.{key}")


def environment_options(context: Any) -> tuple[dict[str, Any], OptionSource]:
    """The ``log_model`` options of ``conf/<env>/mlflow_magic.yml``, read through the session's
    config loader (so ``conf/base`` and the run's environment merge as for any Kedro config),
    and the file they come from; an unknown option names the file."""
    from kedro.config import MissingConfigException

    loader = context.config_loader
    try:
        if CONFIG_KEY not in loader.config_patterns:
            loader.config_patterns.update({CONFIG_KEY: CONFIG_PATTERNS})
        settings = loader[CONFIG_KEY]
    except (MissingConfigException, KeyError, AttributeError):  # none, or no such loader
        return {}, SETTINGS
    options = dict((settings or {}).get("log_model") or {})
    if not options:
        return {}, SETTINGS
    source = environment_source(context, list(options))
    unknown = sorted(set(options) - set(ENVIRONMENT_OPTIONS))
    if unknown:
        raise source.error(
            f"log_model has no option {', '.join(unknown)}; the options are: "
            f"{', '.join(ENVIRONMENT_OPTIONS)}"
        )
    return options, source
