"""The click group every command belongs to, its one-line errors and their exit codes, and
``main``, which runs one command and returns its exit code."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from typing import Any

import click

from kedro_mlflow_magic.cli.version import version_option
from kedro_mlflow_magic.errors import (
    ArtifactCopyError,
    EnvironmentCheckError,
    KedroMlflowMagicError,
    LogAfterRunError,
    ParityError,
    PipelineRunError,
    one_line,
)

# The exit codes, as every command's help says them.
SUCCESS, FAILURE, MISTAKE = 0, 1, 2
EXIT_CODES = (
    "Exit code 0 when it did what was asked, 1 for a failure, 2 for a mistake in the command "
    "line or the project (one line on stderr; --verbose adds the traceback)."
)
# Errors that are not the user's mistake: the command failed (exit code 1).
FAILURES = (
    ParityError, PipelineRunError, ArtifactCopyError, LogAfterRunError, EnvironmentCheckError,
)  # fmt: skip
# MLflow's answers that mean the user named something that does not exist (exit code 2).
MLFLOW_USER_ERRORS = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


class ShellInputError(KedroMlflowMagicError, ValueError):
    """A file or option given on the command line that cannot be used."""


class CommandFailed(click.ClickException):
    """Our one line on stderr, with the exit code that says whose fault it was."""

    def __init__(self, message: str, exit_code: int = FAILURE) -> None:
        super().__init__(one_line(message))
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


class OneLineUsage(click.UsageError):
    """click's own usage errors (missing argument, bad integer...), on one line like ours."""

    def show(self, file: Any = None) -> None:
        hint = f" (see {self.ctx.command_path} --help)" if self.ctx is not None else ""
        click.echo(f"Error: {self.format_message()}{hint}", err=True)


def one_line_usage(error: click.UsageError) -> click.UsageError:
    # no command at all: click shows the help (and exits 2)
    if isinstance(error, OneLineUsage) or type(error).__name__ == "NoArgsIsHelpError":
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

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise one_line_usage(error) from None

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            raise one_line_usage(error) from None


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
            code = FAILURE if isinstance(error, FAILURES) else MISTAKE
            raise CommandFailed(str(error), code) from None
        user_error = getattr(error, "error_code", None) in MLFLOW_USER_ERRORS
        message = f"{type(error).__name__}: {one_line(str(error))}"
        raise CommandFailed(message, MISTAKE if user_error else FAILURE) from None


@click.group(cls=OneLineGroup, name="mlflow-magic", epilog=EXIT_CODES)
@version_option
def cli() -> None:
    """Log Kedro pipelines as self-contained MLflow pyfunc models, and predict with them."""


@click.group(name="kedro_mlflow_magic")
def project_commands() -> None:
    """kedro_mlflow_magic's commands in a Kedro project (``kedro mlflow-magic ...``)."""


project_commands.add_command(cli)


def main(argv: list[str] | None = None) -> int:
    """``kedro-mlflow-magic ...``: run one command, return its exit code (see ``EXIT_CODES``).

    With ``standalone_mode=False``, click returns the code of an ``Exit`` raised inside a
    command (``ctx.exit(1)``) instead of raising it, and a command's own return value
    otherwise: both are read here."""
    try:
        returned = cli.main(args=argv, prog_name="kedro-mlflow-magic", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Exit as done:  # click before 8.2 raised it
        return done.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return FAILURE
    return returned if isinstance(returned, int) else SUCCESS
