"""``LogModelHook``: log a pipeline as an MLflow model after each successful ``kedro run`` of
another, e.g. the inference pipeline after every training run
(``docs/explanation/behaviour.md#after-kedro-run-and-from-the-shell``).

Opt-in, in the project's ``settings.py`` (it is never registered through entry points)::

    from kedro_mlflow_magic.hooks import LogModelHook

    HOOKS = (
        LogModelHook(after="training", pipeline="inference", data_input="customers_to_score",
                     sample="customers", registered_model_name="churn", alias="challenger"),
    )

A face over ``prepare_pipeline(...).log(...)``, with the options of ``%kedro_log_model``,
checked alike from settings.py and from ``conf/<env>/mlflow_magic.yml`` (``hook_options``); it
describes the run's project (its environment's config loader included) to the core.
Importing this module (settings.py does, for every ``kedro`` command) does not import MLflow.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

from kedro_mlflow_magic.errors import (
    KedroMlflowMagicError,
    LogAfterRunError,
    PromotionRefusedError,
    one_line,
)
from kedro_mlflow_magic.hooks.hook_options import (
    SETTINGS,
    HookOptions,
    OptionSource,
    checked_together,
    checked_values,
    environment_options,
)
from kedro_mlflow_magic.hooks.promotion import promote_logged

if TYPE_CHECKING:
    from kedro.io import DataCatalog
    from kedro.pipeline import Pipeline

    from kedro_mlflow_magic.build.logged import LoggedModel
    from kedro_mlflow_magic.options import LogOptions
    from kedro_mlflow_magic.project import ProjectDescription

logger = logging.getLogger("kedro_mlflow_magic")

DEFAULT_PIPELINE = "__default__"


def pipelines_run(run_params: Mapping[str, Any]) -> list[str]:
    """The pipelines a run ran: ``kedro run --pipelines a,b`` gives ``["a", "b"]``; a plain
    ``kedro run`` gives Kedro 1.7 an empty list (``None`` from Python), meaning the default."""
    return list(run_params.get("pipeline_names") or [DEFAULT_PIPELINE])


class LogModelHook:
    """After a successful run of the pipeline ``after``, log the pipeline ``pipeline`` with the
    artifacts that run wrote (read through the run's own catalog).

    The options are those of ``%kedro_log_model``: ``data_input`` (``--input``), ``sample``
    (a catalog dataset name, or a frame; default: the data input's own dataset), ``output``,
    ``name``, ``registered_model_name`` (``--register``), ``alias``, ``freeze``, ``include``,
    ``experiment``, ``example_rows``, ``extra_requirements`` (``--requirement``) and ``trace``
    (``--trace``: every predict records an MLflow trace, a span per node). The model
    goes into the MLflow run that is active and live (kedro-mlflow's run of this
    ``kedro run``), else into a new run. ``promote_to`` (an alias, e.g. ``"champion"``) then
    moves that alias to the registered version through ``promote_model``'s review: a refusal
    is a failure like any other (``on_error``).

    ``on_error="fail"`` (the default) fails the ``kedro run`` with one line when the model
    cannot be logged (a packaging problem, a parity failure...); ``"warn"`` logs a warning
    and lets the run succeed. ``freeze``, ``include`` and ``extra_requirements`` take a name
    or a list of names. ``conf/<env>/mlflow_magic.yml`` may set some of them per environment
    (``log_model:`` with ``output``, ``name``, ``registered_model_name``, ``alias``,
    ``experiment``, ``example_rows``, ``extra_requirements``, ``on_error``, ``trace``); a bad value,
    here or there, is one line naming the key and the file.
    """

    def __init__(
        self,
        after: str,
        pipeline: str,
        data_input: str | None = None,
        sample: Any = None,
        *,
        output: str | None = None,
        name: str = "model",
        registered_model_name: str | None = None,
        alias: str | None = None,
        freeze: tuple[str, ...] | list[str] | str = (),
        include: tuple[str, ...] | list[str] | str = (),
        experiment: str | None = None,
        example_rows: int = 5,
        extra_requirements: tuple[str, ...] | list[str] | str = (),
        on_error: str = "fail",
        promote_to: str | None = None,
        trace: bool = False,
    ) -> None:
        given = dict(locals())
        given.pop("self")
        self.options = HookOptions(**checked_values(given, SETTINGS))
        # the options of the session's environment (settings.py's, with mlflow_magic.yml's)
        self.in_run = self.options
        self.in_run_source = SETTINGS
        self.context: Any = None

    def __repr__(self) -> str:
        return f"LogModelHook(after={self.options.after!r}, pipeline={self.options.pipeline!r})"

    def __getattr__(self, name: str) -> Any:
        """The options as attributes (``hook.after``, ``hook.on_error``)."""
        options = self.__dict__.get("options")
        if options is not None and name in HookOptions.__dataclass_fields__:
            return getattr(options, name)
        raise AttributeError(f"'LogModelHook' object has no attribute {name!r}")

    def with_environment(self, changes: Mapping[str, Any], source: OptionSource) -> None:
        """Apply the options of the run's environment (``changes``, set in ``source``), each
        checked as settings.py's are."""
        self.in_run = self.options.but(changes, source) if changes else self.options
        self.in_run_source = source if changes else SETTINGS

    def counts(self, run_params: Mapping[str, Any], ran: Pipeline) -> bool:
        """Whether this run is a run of ``after``: it was named (or it is the default run) and
        none of its nodes was filtered out (``--nodes``, ``--tags``, ``--from-nodes``...)."""
        names = pipelines_run(run_params)
        if self.after not in names and DEFAULT_PIPELINE not in names:
            return False
        from kedro_mlflow_magic.compat import all_project_pipelines
        from kedro_mlflow_magic.project import pipeline_named

        after = pipeline_named(all_project_pipelines(), self.after)
        skipped = {node.name for node in after.nodes} - {node.name for node in ran.nodes}
        if skipped and self.after in names:
            logger.info(
                "Not logging pipeline '%s': this run of '%s' skipped its nodes %s",
                self.pipeline, self.after, ", ".join(sorted(skipped)),
            )  # fmt: skip
        return not skipped

    def log_options(self) -> LogOptions:
        """The options of the log in this run's environment, checked (before the run too, so
        that a long training does not end in a failure the settings already showed)."""
        return checked_together(self.in_run, self.in_run_source)

    def project(self) -> ProjectDescription:
        """The run's project as the core takes it: its path, environment, the session's
        config loader (its mlflow.yml as ``kedro run --env`` reads it) and every registered
        pipeline."""
        from kedro_mlflow_magic.compat import all_project_pipelines
        from kedro_mlflow_magic.project import ProjectDescription

        if self.context is None:  # called outside a session's run: the current folder's
            return ProjectDescription(pipelines=all_project_pipelines())
        return ProjectDescription.of_context(self.context, all_project_pipelines())

    def log(self, catalog: DataCatalog) -> LoggedModel:
        """Log ``pipeline`` with the artifacts in ``catalog`` (the run's catalog)."""
        from kedro_mlflow_magic.prepared import prepare_pipeline
        from kedro_mlflow_magic.project import load_sample_dataset

        options, project = self.in_run, self.project()
        sample = options.sample
        if isinstance(sample, str):
            sample = load_sample_dataset(catalog, sample, "sample")
        prepared = prepare_pipeline(
            project.pipeline(options.pipeline), catalog, options.data_input, sample,
            output=options.output, freeze=options.freeze, include=options.include,
            project=project,
        )  # fmt: skip
        return prepared.log(
            self.log_options(), progress=lambda step: logger.debug("LogModelHook: %s", step)
        )

    def report(self, logged: LoggedModel) -> None:
        logger.info(
            "Logged pipeline '%s' after the run of '%s': %s into run %s (%s)",
            self.pipeline, self.after, logged.model_info.model_uri, logged.run_id,
            logged.run_reason,
        )  # fmt: skip
        if logged.registered_version is not None:
            alias = f", alias '{logged.alias}'" if logged.alias else ""
            logger.info(
                "Registered it as '%s' version %s%s (models:/%s/%s)",
                logged.registered_model_name, logged.registered_version, alias,
                logged.registered_model_name, logged.registered_version,
            )  # fmt: skip
        for note in logged.notes:  # what the summary of %kedro_log_model and `log` say too
            logger.info("Note: %s", note)

    def failure(self, error: Exception) -> LogAfterRunError | None:
        """The one-line error that fails the run; None (and a warning) when this run's
        environment says ``on_error: warn``."""
        reason = one_line(str(error))
        if not isinstance(error, KedroMlflowMagicError):
            reason = f"{type(error).__name__}: {reason}"
        message = (
            f"could not log pipeline '{self.pipeline}' after the run of '{self.after}': {reason}"
        )
        if isinstance(error, PromotionRefusedError):  # logged and registered, not promoted
            message = f"logged pipeline '{self.pipeline}' but did not promote it: {reason}"
        if self.in_run.on_error == "warn":
            logger.warning("%s (on_error='warn': the run still succeeds)", message)
            return None
        failure = LogAfterRunError(message)
        if not isinstance(error, KedroMlflowMagicError):
            failure.__cause__ = error  # an unexpected error keeps its traceback
        return failure

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """The session's context (its environment's config loader) and its mlflow_magic.yml
        options, each checked: a bad one fails now, in one line naming the key and the file."""
        self.context = context
        self.with_environment(*environment_options(context))

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        if self.after not in pipelines_run(run_params):
            return
        try:
            self.log_options()
        except Exception as error:
            failure = self.failure(error)
            if failure is not None:
                raise failure from None

    # A wrapper: it logs before every other after_pipeline_run (pluggy calls plugins' hooks,
    # registered after settings.HOOKS, first; a plain hook would find kedro-mlflow's run
    # already ended), and it fails the run only after the others ran (kedro-mlflow still
    # closes its run).
    @hook_impl(wrapper=True)
    def after_pipeline_run(
        self,
        run_params: dict[str, Any],
        run_result: dict[str, Any],
        pipeline: Pipeline,
        catalog: DataCatalog,
    ) -> Generator[None, Any, Any]:
        failure = None
        if logger.level == logging.NOTSET:  # the user did not configure ours: say what we do
            logger.setLevel(logging.INFO)
        try:
            if self.counts(run_params, pipeline):
                logged = self.log(catalog)
                self.report(logged)
                promote_logged(logged, self.in_run.promote_to)
        except Exception as error:
            failure = self.failure(error)
        result = yield
        if failure is not None:
            raise failure
        return result
