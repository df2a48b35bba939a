"""The shell command's review commands: ``diff BEFORE AFTER`` (exit 0 when nothing is breaking,
1 when something is, the changes printed) and ``promote MODEL_URI --alias NAME`` (exit 1 when
the review refuses it). Faces over ``compare_models`` and ``promote_model``; they join the
one click group, and they share its error handling (one line; exit 2 for a user's
mistake; ``--verbose`` for tracebacks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kedro_mlflow_magic.cli.files import DATA_SUFFIXES, read_frame
from kedro_mlflow_magic.cli.group import EXIT_CODES, FAILURE, CommandFailed, cli, reported
from kedro_mlflow_magic.cli.models import use_tracking_of
from kedro_mlflow_magic.cli.noise import quiet_libraries, terminal_progress
from kedro_mlflow_magic.cli.options import project_options
from kedro_mlflow_magic.errors import PromotionRefusedError


def data_option(default: str) -> Any:
    return click.option(
        "--data",
        metavar="FILE",
        default=None,
        help=f"the frame both models predict on (.csv, .parquet); default: the input example "
        f"of {default}",
    )


def data_from(data: str | None) -> Any:
    return None if data is None else read_frame(Path(data).expanduser(), "--data", DATA_SUFFIXES)


@cli.command(epilog=EXIT_CODES)
@click.argument("before")
@click.argument("after")
@data_option("the model before")
@project_options
def diff(
    before: str, after: str, data: str | None, project: str | None, env: str | None, verbose: bool
) -> None:
    """Print what changed from the model BEFORE to the model AFTER (runs:/...,
    models:/<name>/<version>, models:/<name>@<alias>, models:/m-...): signature, parameters,
    nodes, artifacts, requirements, versions, and how their answers differ. Exit code 1 when
    a caller of BEFORE could break on AFTER, else 0."""
    quiet_libraries(verbose)
    say = terminal_progress(verbose)
    with reported(verbose):
        from kedro_mlflow_magic.verify.review import compare_models

        frame = data_from(data)
        use_tracking_of(project, env)
        say("reviewing the two models")
        review = compare_models(before, after, frame)
    click.echo(str(review))
    if review.breaking:
        raise click.exceptions.Exit(FAILURE)


@cli.command(epilog=EXIT_CODES)
@click.argument("model_uri")
@click.option("--alias", required=True, metavar="NAME", help="the alias to move (e.g. champion)")
@data_option("the version holding the alias")
@click.option(
    "--force",
    is_flag=True,
    help="move the alias even when the review finds a breaking change or different answers",
)
@project_options
def promote(
    model_uri: str,
    alias: str,
    data: str | None,
    force: bool,
    project: str | None,
    env: str | None,
    verbose: bool,
) -> None:
    """Move the alias NAME of MODEL_URI's registered model to that version, only when the
    review against the version holding it now finds nothing breaking and their answers agree
    (or with --force). Exit code 1, the review printed and the alias left, when refused."""
    quiet_libraries(verbose)
    say = terminal_progress(verbose)
    with reported(verbose):
        from kedro_mlflow_magic.tracking.promotion import promote_model

        frame = data_from(data)
        use_tracking_of(project, env)
        say("reviewing the model against the version holding the alias")
        try:
            promotion = promote_model(model_uri, alias, frame, force=force)
        except PromotionRefusedError as refused:
            if refused.diff is not None:
                click.echo(str(refused.diff))
            raise CommandFailed(str(refused), FAILURE) from None
    click.echo(str(promotion))
