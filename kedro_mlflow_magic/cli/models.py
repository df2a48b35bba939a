"""``predict`` and ``check``: the commands over a logged model, found in the project's tracking
store (read as ``kedro run --env`` reads it), else in ``MLFLOW_TRACKING_URI``'s."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kedro_mlflow_magic.cli.files import DATA_SUFFIXES, OUTPUT_SUFFIXES, read_frame, write_result
from kedro_mlflow_magic.cli.group import (
    EXIT_CODES,
    FAILURE,
    ShellInputError,
    cli,
    reported,
)
from kedro_mlflow_magic.cli.noise import quiet_libraries, terminal_progress
from kedro_mlflow_magic.cli.options import project_options


@cli.command(epilog=EXIT_CODES)
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
@project_options
def predict(
    model_uri: str,
    data: str,
    params: tuple[str, ...],
    output: str | None,
    profile: bool,
    project: str | None,
    env: str | None,
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
        use_tracking_of(project, env)
        say("loading the model")
        model = prediction.models.load(model_uri)
        overrides = prediction.parse_params(params, model)
        say("predicting")
        result = prediction.predict(model, frame, overrides, model_uri)
        write_result(result, target)
        from kedro_mlflow_magic.verify.batch_independence import fewer_rows_note

        note = fewer_rows_note(model.model_config, frame)
        if note is not None:
            click.echo(note, err=True)
        if profile:
            from kedro_mlflow_magic.tracking.profile import profile_model

            say("profiling")
            click.echo(str(profile_model(model_uri, frame, params=overrides)), err=True)
    if target is not None and sys.stderr.isatty():
        click.echo(f"Wrote the predictions to {target}", err=True)


@cli.command(epilog=EXIT_CODES)
@click.argument("model_uri")
@click.option(
    "--env-manager",
    type=click.Choice(["uv", "virtualenv"]),
    default="uv",
    show_default=True,
    help="how MLflow builds the model's environment",
)
@project_options
def check(
    model_uri: str, env_manager: str, project: str | None, env: str | None, verbose: bool
) -> None:
    """Predict the input example of MODEL_URI in a fresh environment built from the model's
    own requirements (cached), and compare with this environment's answer: exit code 0 when
    they agree, 1 when the model fails there or answers differently."""
    quiet_libraries(verbose)
    say = terminal_progress(verbose)
    with reported(verbose):
        from kedro_mlflow_magic.verify.environment_check import check_environment

        use_tracking_of(project, env)
        say("checking the model in a fresh environment of its requirements")
        checked = check_environment(model_uri, env_manager=env_manager)
    click.echo(str(checked))
    if not checked.agree:
        # an Exit, not a return value: click's standalone mode (``kedro mlflow-magic``) exits
        # with it, and ``main`` returns it
        raise click.exceptions.Exit(FAILURE)


def use_tracking_of(project: str | None, env: str | None) -> None:
    """The project's tracking store (``--project``, or the one the current folder is in, read
    in ``--env`` as ``kedro run --env`` reads it), else ``MLFLOW_TRACKING_URI``; neither is
    the user's mistake, said in one line."""
    from kedro_mlflow_magic.project import find_project, find_project_root, open_project
    from kedro_mlflow_magic.tracking import store

    if project is not None or find_project_root(Path.cwd()) is not None:
        with open_project(find_project(project), env) as opened:
            described = opened.description
        store.use_project_tracking(described.path, described.config_loader)
    elif env is not None:
        raise ShellInputError(
            f"--env {env}: no Kedro project here to read conf/{env} from; run inside the "
            "project or pass --project PATH"
        )
    elif store.resolve_tracking_uri(None).ours:  # no project: only the user's URI will do
        raise ShellInputError(
            "no Kedro project here to find the models in: run inside the project, pass "
            "--project PATH, or set MLFLOW_TRACKING_URI"
        )
