"""``inputs`` and ``log``: the commands over a project's pipelines. Each opens a real
``KedroSession`` in the asked environment (``--env``) and hands its description to the core."""

from __future__ import annotations

import click

from kedro_mlflow_magic.cli.files import sample_from
from kedro_mlflow_magic.cli.group import EXIT_CODES, cli, reported
from kedro_mlflow_magic.cli.noise import mlflow_prints_hidden, quiet_libraries, terminal_progress
from kedro_mlflow_magic.cli.options import names, pipeline_options, project_options


@cli.command(epilog=EXIT_CODES)
@pipeline_options
@project_options
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
    with reported(verbose), open_project(find_project(project), env) as opened:
        roles = inspect_pipeline(
            opened.pipeline(pipeline), opened.catalog, data_input, freeze=names(freeze),
            pipelines=opened.description.pipelines,
        )  # fmt: skip
    click.echo(str(roles))


@cli.command(epilog=EXIT_CODES)
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
@project_options
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
    check that the reloaded model gives what the pipeline gives, and print a summary. The
    model goes where the project's mlflow.yml of --env says, unless MLFLOW_TRACKING_URI is
    set. Exit code 1 when a node fails on the sample or the reloaded model disagrees."""
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
                freeze=names(freeze), include=names(include), project=opened.description,
            )  # fmt: skip
            with mlflow_prints_hidden(verbose):
                logged = prepared.log(options, progress=say)
    click.echo(str(logged))
