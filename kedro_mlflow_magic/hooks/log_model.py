"""``LogModelHook``: log a pipeline as an MLflow model after each successful ``kedro run`` of
another, e.g. the inference pipeline after every training run (SPEC 9).

Opt-in, in the project's ``settings.py`` (it is never registered through entry points)::

    from kedro_mlflow_magic.hooks import LogModelHook

    HOOKS = (
        LogModelHook(after="training", pipeline="inference", data_input="customers_to_score",
                     sample="customers", registered_model_name="churn", alias="challenger"),
    )

A face over ``prepare_pipeline(...).log(...)``, with the options of ``%kedro_log_model``.
Importing this module (settings.py does, for every ``kedro`` command) does not import MLflow.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

from kedro_mlflow_magic.errors import KedroMlflowMagicError, LogAfterRunError, one_line

if TYPE_CHECKING:
    from kedro.io import DataCatalog
    from kedro.pipeline import Pipeline

    from kedro_mlflow_magic.build.logged import LoggedModel
    from kedro_mlflow_magic.options import LogOptions

logger = logging.getLogger("kedro_mlflow_magic")

ON_ERROR = ("fail", "warn")
DEFAULT_PIPELINE = "__default__"
# conf/<env>/mlflow_magic.yml, key `log_model`: options that differ by environment
CONFIG_KEY = "mlflow_magic"
CONFIG_PATTERNS = ["mlflow_magic*", "mlflow_magic*/**"]
ENVIRONMENT_OPTIONS = (
    "output", "name", "registered_model_name", "alias", "experiment", "example_rows", "on_error",
    "trace",
)  # fmt: skip


def environment_options(context: Any) -> dict[str, Any]:
    """The ``log_model`` options of ``conf/<env>/mlflow_magic.yml``, read through the session's
    config loader (so ``conf/base`` and the run's environment merge as for any Kedro config)."""
    from kedro.config import MissingConfigException

    loader = context.config_loader
    try:
        if CONFIG_KEY not in loader.config_patterns:
            loader.config_patterns.update({CONFIG_KEY: CONFIG_PATTERNS})
        settings = loader[CONFIG_KEY]
    except (MissingConfigException, KeyError, AttributeError):  # none, or no such loader
        return {}
    options = dict((settings or {}).get("log_model") or {})
    unknown = sorted(set(options) - set(ENVIRONMENT_OPTIONS))
    if unknown:
        raise ValueError(
            f"mlflow_magic.yml: log_model has no option {', '.join(unknown)}; "
            f"the options are: {', '.join(ENVIRONMENT_OPTIONS)}"
        )
    return options


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
    ``kedro run``), else into a new run.

    ``on_error="fail"`` (the default) fails the ``kedro run`` with one line when the model
    cannot be logged (a packaging problem, a parity failure...); ``"warn"`` logs a warning
    and lets the run succeed.
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
        freeze: tuple[str, ...] | list[str] = (),
        include: tuple[str, ...] | list[str] = (),
        experiment: str | None = None,
        example_rows: int = 5,
        extra_requirements: tuple[str, ...] | list[str] = (),
        on_error: str = "fail",
        trace: bool = False,
    ) -> None:
        if on_error not in ON_ERROR:
            raise ValueError(f"LogModelHook: on_error must be 'fail' or 'warn', not {on_error!r}")
        if any(isinstance(names, str) for names in (freeze, include, extra_requirements)):
            raise TypeError(
                "LogModelHook: freeze, include and extra_requirements each take a list of "
                "names, not a str"
            )
        self.after = after
        self.pipeline = pipeline
        self.data_input = data_input
        self.sample = sample
        self.output = output
        self.name = name
        self.registered_model_name = registered_model_name
        self.alias = alias
        self.freeze = tuple(freeze)
        self.include = tuple(include)
        self.experiment = experiment
        self.example_rows = example_rows
        self.extra_requirements = tuple(extra_requirements)
        self.on_error = on_error
        self.trace = trace
        self.environment: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"LogModelHook(after={self.after!r}, pipeline={self.pipeline!r})"

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
        """This hook's options of the log, checked (so before the run too, so that a long
        training does not end in a failure the settings already showed)."""
        from kedro_mlflow_magic.options import LogOptions

        return LogOptions(
            name=self.name, example_rows=self.example_rows, experiment=self.experiment,
            registered_model_name=self.registered_model_name, alias=self.alias,
            extra_requirements=self.extra_requirements, trace=self.trace,
        )  # fmt: skip

    def log(self, catalog: DataCatalog, project_path: Path) -> LoggedModel:
        """Log ``pipeline`` with the artifacts in ``catalog`` (the run's catalog)."""
        from kedro_mlflow_magic.compat import all_project_pipelines
        from kedro_mlflow_magic.prepared import prepare_pipeline
        from kedro_mlflow_magic.project import load_sample_dataset, pipeline_named

        pipeline = pipeline_named(all_project_pipelines(), self.pipeline)
        sample = self.sample
        if isinstance(sample, str):
            sample = load_sample_dataset(catalog, sample, "sample")
        prepared = prepare_pipeline(
            pipeline, catalog, self.data_input, sample, output=self.output, freeze=self.freeze,
            include=self.include, project_path=project_path,
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

    def failure(self, error: Exception) -> LogAfterRunError | None:
        """The one-line error that fails the run; None (and a warning) with on_error='warn'."""
        reason = one_line(str(error))
        if not isinstance(error, KedroMlflowMagicError):
            reason = f"{type(error).__name__}: {reason}"
        message = (
            f"could not log pipeline '{self.pipeline}' after the run of '{self.after}': {reason}"
        )
        if self.on_error == "warn":
            logger.warning("%s (on_error='warn': the run still succeeds)", message)
            return None
        failure = LogAfterRunError(message)
        if not isinstance(error, KedroMlflowMagicError):
            failure.__cause__ = error  # an unexpected error keeps its traceback
        return failure

    def in_environment(self) -> LogModelHook:
        """This hook with the options of the run's environment (mlflow_magic.yml) applied."""
        if not self.environment:
            return self
        hook = copy.copy(self)
        vars(hook).update(self.environment)
        hook.environment = {}
        return hook

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self.environment = environment_options(context)

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        if self.after not in pipelines_run(run_params):
            return
        hook = self.in_environment()
        try:
            hook.log_options()
        except Exception as error:
            failure = hook.failure(error)
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
        hook = self.in_environment()
        try:
            if hook.counts(run_params, pipeline):
                hook.report(hook.log(catalog, Path(run_params["project_path"])))
        except Exception as error:
            failure = hook.failure(error)
        result = yield
        if failure is not None:
            raise failure
        return result
