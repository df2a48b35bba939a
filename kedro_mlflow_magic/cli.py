"""The shell command (SPEC 9): ``inputs``, ``log``, ``predict`` and ``check`` (SPEC 14)
without a notebook.

Two ways in, one click group:
- ``kedro-mlflow-magic inputs|log|predict|check ...`` (the console script; ``__main__`` hands these
  commands over here and keeps ``demo`` itself);
- ``kedro mlflow-magic inputs|log|predict|check ...`` inside a Kedro project (Kedro loads
  ``project_commands`` from the ``kedro.project_commands`` entry point).

A face over ``prepare_pipeline(...).log(...)`` and ``prediction``: it parses, opens a real
``KedroSession``, calls the core and prints. A user's mistake is one line on stderr and exit
code 2; a failure (the pipeline failed, the parity check failed, an unexpected error) is one
line and exit code 1; ``--verbose`` adds the traceback and Kedro's and MLflow's logs.

Kedro imports this module for every ``kedro`` command in an environment where we are
installed: it imports click and our errors only; Kedro and MLflow are imported by a command.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kedro_mlflow_magic.errors import (
    ArtifactCopyError,
    EnvironmentCheckError,
    KedroMlflowMagicError,
    LogAfterRunError,
    ParityError,
    PipelineRunError,
    one_line,
)

if TYPE_CHECKING:
    import pandas as pd
    from kedro.io import DataCatalog

    from kedro_mlflow_magic.progress import Progress

# Errors that are not the user's mistake: the command failed (exit code 1).
FAILURES = (
    ParityError, PipelineRunError, ArtifactCopyError, LogAfterRunError, EnvironmentCheckError,
)  # fmt: skip
# MLflow's answers that mean the user named something that does not exist (exit code 2).
MLFLOW_USER_ERRORS = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}
SAMPLE_SUFFIXES = (".csv", ".parquet", ".pkl", ".pickle")
DATA_SUFFIXES = (".csv", ".parquet")
OUTPUT_SUFFIXES = (".csv", ".parquet")
KEDRO_RUN_LOGGERS = ("kedro.pipeline", "kedro.runner", "kedro.io")
NOISY_LOGGERS = ("mlflow", "alembic", "py4j", "urllib3")


class ShellInputError(KedroMlflowMagicError, ValueError):
    """A file or option given on the command line that cannot be used."""


class CommandFailed(click.ClickException):
    """Our one line on stderr, with the exit code that says whose fault it was."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(one_line(message))
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


class OneLineUsage(click.UsageError):
    """click's own usage errors (missing argument, bad integer...), on one line like ours."""

    def show(self, file: Any = None) -> None:
        hint = f" (see {self.ctx.command_path} --help)" if self.ctx is not None else ""
        click.echo(f"Error: {self.format_message()}{hint}", err=True)


def one_line_usage(error: click.UsageError) -> OneLineUsage:
    if isinstance(error, OneLineUsage):
        return error
    return OneLineUsage(error.format_message(), error.ctx)


class OneLineCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise one_line_usage(error) from None


class OneLineGroup(click.Group):
    command_class = OneLineCommand

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            raise one_line_usage(error) from None


def quiet_libraries(verbose: bool) -> None:
    """Kedro's and MLflow's INFO logs and OmegaConf's deprecation warnings would bury our
    output (as for ``python -m kedro_mlflow_magic demo``); ``--verbose`` keeps them. The
    variables count when Kedro or MLflow is imported later; the levels when it already was
    (``kedro mlflow-magic``) and after a session configured logging."""
    if verbose:
        return
    os.environ.setdefault(
        "KEDRO_LOGGING_CONFIG", str(Path(__file__).parent / "demo" / "logging.yml")
    )
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", message=".*register_new_resolver.*")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # a node that fails on the sample is logged by Kedro, then said again in our one line (the
    # children: the core quiets the "kedro" logger to WARNING, and back, around its own runs)
    for name in ("kedro", *KEDRO_RUN_LOGGERS):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def terminal_progress(verbose: bool) -> Progress:
    """Each step on stderr when a person watches it (a terminal); nothing when piped."""
    from kedro_mlflow_magic.progress import DONE

    stream = sys.stderr
    watched = stream.isatty()

    def say(step: str) -> None:
        quiet_libraries(verbose)  # a KedroSession may have configured logging since
        if watched and step != DONE:
            click.echo(f"... {step}", file=stream)

    return say


@contextlib.contextmanager
def mlflow_prints_hidden(verbose: bool) -> Iterator[None]:
    """MLflow prints some news straight to stderr ("Successfully registered model..."): our
    summary on stdout says it already."""
    if verbose:
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()):
        yield


@contextlib.contextmanager
def reported(verbose: bool) -> Iterator[None]:
    """Our errors and any other as one line and an exit code (with the traceback first when
    ``--verbose``)."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except Exception as error:
        if verbose:
            traceback.print_exc()
        if isinstance(error, KedroMlflowMagicError):
            raise CommandFailed(str(error), 1 if isinstance(error, FAILURES) else 2) from None
        user_error = getattr(error, "error_code", None) in MLFLOW_USER_ERRORS
        message = f"{type(error).__name__}: {one_line(str(error))}"
        raise CommandFailed(message, 2 if user_error else 1) from None


def names(values: Iterable[str]) -> tuple[str, ...]:
    """``--freeze a --freeze b`` or ``--freeze a,b``."""
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


def read_frame(path: Path, option: str, suffixes: tuple[str, ...]) -> pd.DataFrame:
    """A frame from a file, read by its suffix; an unreadable file is one line naming it."""
    import pandas as pd

    from kedro_mlflow_magic.build.signature import checked_input

    readers: dict[str, Callable[[Path], Any]] = {
        ".csv": pd.read_csv,
        ".parquet": pd.read_parquet,
        ".pkl": pd.read_pickle,
        ".pickle": pd.read_pickle,
    }
    kinds = ", ".join(suffixes)
    if path.suffix.lower() not in suffixes:
        raise ShellInputError(f"{option} {path}: give a file ending in {kinds}")
    if not path.is_file():
        raise ShellInputError(f"{option} {path}: no such file")
    try:
        value = readers[path.suffix.lower()](path)
    except Exception as error:
        raise ShellInputError(
            f"{option} {path}: could not read it: {type(error).__name__}: {one_line(str(error))}"
        ) from None
    return checked_input(value, name=f"{option} {path}")


def sample_from(text: str, catalog: DataCatalog) -> pd.DataFrame:
    """``--sample``: a file (.csv, .parquet, .pkl) when one is there, else a catalog dataset."""
    from kedro_mlflow_magic.build.signature import checked_input
    from kedro_mlflow_magic.project import load_sample_dataset

    path = Path(text).expanduser()
    if path.is_file() or (path.suffix.lower() in SAMPLE_SUFFIXES and text not in catalog):
        return read_frame(path, "--sample", SAMPLE_SUFFIXES)
    if text in catalog:
        sample = load_sample_dataset(catalog, text, "--sample")
        return checked_input(sample, name=f"--sample {text}")
    raise ShellInputError(
        f"--sample {text}: neither a catalog dataset nor a file; name a catalog dataset "
        f"or a {', '.join(SAMPLE_SUFFIXES)} file"
    )


def write_result(result: Any, output: Path | None) -> None:
    """The prediction as CSV on stdout, or into ``output`` (.csv or .parquet)."""
    import pandas as pd

    frame = result if isinstance(result, pd.DataFrame) else pd.DataFrame(result)
    frame.columns = [str(column) for column in frame.columns]
    if output is None:
        frame.to_csv(sys.stdout, index=False)
    elif output.suffix.lower() == ".parquet":
        frame.to_parquet(output, index=False)
    else:
        frame.to_csv(output, index=False)


def project_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--project",
        metavar="PATH",
        default=None,
        help="the Kedro project (default: the one the current folder is in)",
    )(function)


def env_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--env", "-e", default=None, help="Kedro configuration environment (as kedro run --env)"
    )(function)


def verbose_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--verbose", "-v", is_flag=True, help="show tracebacks and Kedro's and MLflow's logs"
    )(function)


def pipeline_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """PIPELINE, --input and --freeze, as in the magics."""
    function = click.option(
        "--freeze",
        multiple=True,
        metavar="NAME",
        help="an input to ship with its current value, pickled (repeat it, or NAME,NAME)",
    )(function)
    function = click.option(
        "--input",
        "data_input",
        metavar="NAME",
        default=None,
        help="the data input, the free input the model predicts on "
        "(default: guessed from the project)",
    )(function)
    return click.argument("pipeline")(function)


@click.group(cls=OneLineGroup, name="mlflow-magic")
def cli() -> None:
    """Log Kedro pipelines as self-contained MLflow pyfunc models, and predict with them."""


@cli.command()
@pipeline_options
@project_option
@env_option
@verbose_option
def inputs(
    pipeline: str,
    data_input: str | None,
    freeze: tuple[str, ...],
    project: str | None,
    env: str | None,
    verbose: bool,
) -> None:
    """Print the role of each free input of PIPELINE: data input, artifacts, parameters, and
    problems with their fix."""
    from kedro_mlflow_magic.inspect.roles import inspect_pipeline
    from kedro_mlflow_magic.project import find_project, open_project

    quiet_libraries(verbose)
    with reported(verbose):
        root = find_project(project)
        with open_project(root, env) as opened:
            roles = inspect_pipeline(
                opened.pipeline(pipeline), opened.catalog, data_input, freeze=names(freeze)
            )
    click.echo(str(roles))


@cli.command()
@pipeline_options
@click.option(
    "--sample",
    metavar="DATASET|FILE",
    default=None,
    help="a catalog dataset or a .csv, .parquet or .pkl file; default: the data input's "
    "own dataset, when it can be loaded",
)
@click.option("--output", metavar="NAME", default=None, help="the output to predict (if several)")
@click.option("--name", default="model", show_default=True, help="the model's name in the run")
@click.option("--experiment", metavar="NAME", default=None, help="the experiment for this log")
@click.option("--run-id", metavar="RUN", default=None, help="log into this run")
@click.option("--run-name", metavar="NAME", default=None, help="the name of the new run")
@click.option("--register", metavar="NAME", default=None, help="register the model under NAME")
@click.option("--alias", default=None, help="set this alias on the registered version")
@click.option(
    "--include",
    multiple=True,
    metavar="FILE",
    help="a data file a node reads, shipped with the model (repeat it, or FILE,FILE)",
)
@click.option(
    "--example-rows", type=int, default=5, show_default=True, help="rows in the input example"
)
@click.option(
    "--requirement",
    multiple=True,
    metavar="PACKAGE",
    help="a requirement the scan of the imports misses (repeat it): a bare name is pinned to "
    "the version installed here, a specifier (pkg>=1.2) kept as given",
)
@click.option(
    "--trace", is_flag=True, help="every predict records an MLflow trace, a span per node"
)
@project_option
@env_option
@verbose_option
def log(
    pipeline: str,
    data_input: str | None,
    freeze: tuple[str, ...],
    sample: str | None,
    output: str | None,
    name: str,
    experiment: str | None,
    run_id: str | None,
    run_name: str | None,
    register: str | None,
    alias: str | None,
    include: tuple[str, ...],
    example_rows: int,
    requirement: tuple[str, ...],
    trace: bool,
    project: str | None,
    env: str | None,
    verbose: bool,
) -> None:
    """Log PIPELINE as a self-contained MLflow pyfunc model predicting on its data input,
    check that the reloaded model gives what the pipeline gives, and print a summary."""
    quiet_libraries(verbose)
    say = terminal_progress(verbose)
    with reported(verbose):
        from kedro_mlflow_magic import progress as steps
        from kedro_mlflow_magic.options import LogOptions
        from kedro_mlflow_magic.prepared import prepare_pipeline
        from kedro_mlflow_magic.project import find_project, open_project

        options = LogOptions(
            name=name, example_rows=example_rows, experiment=experiment,
            registered_model_name=register, alias=alias, run_id=run_id, run_name=run_name,
            extra_requirements=requirement, trace=trace,
        )  # fmt: skip
        root = find_project(project)
        say("opening the Kedro project")
        with open_project(root, env) as opened:
            to_log = opened.pipeline(pipeline)
            frame = None if sample is None else sample_from(sample, opened.catalog)
            say(steps.COLLECTING)
            prepared = prepare_pipeline(
                to_log, opened.catalog, data_input, frame, output=output,
                freeze=names(freeze), include=names(include), project_path=root,
            )  # fmt: skip
            with mlflow_prints_hidden(verbose):
                logged = prepared.log(options, progress=say)
    click.echo(str(logged))


@cli.command()
@click.argument("model_uri")
@click.option(
    "--data", metavar="FILE", required=True, help="the frame to predict on (.csv, .parquet)"
)
@click.option(
    "--params",
    multiple=True,
    metavar="KEY=VALUE",
    help="a parameter override (repeat it); VALUE is a Python literal (else text), converted "
    "to the parameter's type in the signature; nested keys are dotted (scoring.decimals=2)",
)
@click.option(
    "--output",
    metavar="FILE",
    default=None,
    help="write the predictions to FILE (.csv or .parquet); default: CSV on stdout",
)
@click.option("--profile", is_flag=True, help="also print each node's time per call (on stderr)")
@project_option
@verbose_option
def predict(
    model_uri: str,
    data: str,
    params: tuple[str, ...],
    output: str | None,
    profile: bool,
    project: str | None,
    verbose: bool,
) -> None:
    """Predict with the model MODEL_URI (runs:/..., models:/<name>/<version>,
    models:/<name>@<alias>) on a frame read from a file."""
    quiet_libraries(verbose)
    say = terminal_progress(verbose)
    with reported(verbose):
        from kedro_mlflow_magic.tracking import prediction

        target = Path(output).expanduser() if output is not None else None
        if target is not None and target.suffix.lower() not in OUTPUT_SUFFIXES:
            raise ShellInputError(f"--output {output}: give a file ending in .csv or .parquet")
        frame = read_frame(Path(data).expanduser(), "--data", DATA_SUFFIXES)
        use_tracking_of(project)
        say("loading the model")
        model = prediction.models.load(model_uri)
        overrides = prediction.parse_params(params, model)
        say("predicting")
        result = prediction.predict(model, frame, overrides, model_uri)
        write_result(result, target)
        if profile:
            from kedro_mlflow_magic.verify.profile import profile_model

            say("profiling")
            click.echo(str(profile_model(model_uri, frame, params=overrides)), err=True)
    if target is not None and sys.stderr.isatty():
        click.echo(f"Wrote the predictions to {target}", err=True)


@cli.command()
@click.argument("model_uri")
@click.option(
    "--env-manager",
    type=click.Choice(["uv", "virtualenv"]),
    default="uv",
    show_default=True,
    help="how MLflow builds the model's environment",
)
@project_option
@verbose_option
def check(model_uri: str, env_manager: str, project: str | None, verbose: bool) -> None:
    """Predict the input example of MODEL_URI in a fresh environment built from the model's
    own requirements (cached), and compare with this environment's answer. Exit code 1 when
    it fails there or differs."""
    quiet_libraries(verbose)
    say = terminal_progress(verbose)
    with reported(verbose):
        from kedro_mlflow_magic.verify.environment_check import check_environment

        use_tracking_of(project)
        say("checking the model in a fresh environment of its requirements")
        checked = check_environment(model_uri, env_manager=env_manager)
    click.echo(str(checked))
    if not checked.agree:
        raise click.exceptions.Exit(1)


def use_tracking_of(project: str | None) -> None:
    """The project's tracking store (``--project``, or the one the current folder is in), else
    ``MLFLOW_TRACKING_URI``; neither is the user's mistake, said in one line."""
    from kedro_mlflow_magic.project import find_project, find_project_root
    from kedro_mlflow_magic.tracking import store

    if project is not None or find_project_root(Path.cwd()) is not None:
        store.use_project_tracking(find_project(project))
    elif store.resolve_tracking_uri(None).ours:  # no project: only the user's URI will do
        raise ShellInputError(
            "no Kedro project here to find the models in: run inside the project, pass "
            "--project PATH, or set MLFLOW_TRACKING_URI"
        )


@click.group(name="kedro_mlflow_magic")
def project_commands() -> None:
    """kedro_mlflow_magic's commands in a Kedro project (``kedro mlflow-magic ...``)."""


project_commands.add_command(cli)


def main(argv: list[str] | None = None) -> int:
    """``kedro-mlflow-magic inputs|log|predict|check ...``: run one command, return its exit code."""
    try:
        cli.main(args=argv, prog_name="kedro-mlflow-magic", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    return 0
