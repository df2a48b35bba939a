"""``demo [FOLDER]``: create, train, log and reload the demo project, printing each step."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from kedro_mlflow_magic.cli.group import EXIT_CODES, cli, reported
from kedro_mlflow_magic.cli.noise import quiet_libraries
from kedro_mlflow_magic.cli.options import verbose_option


@cli.command(epilog=EXIT_CODES)
@click.argument(
    "folder",
    default="kedro-mlflow-demo",
    type=click.Path(file_okay=False, path_type=Path),
)
@verbose_option
def demo(folder: Path, verbose: bool) -> None:
    """Create the demo Kedro project in FOLDER (default: ./kedro-mlflow-demo), train it, log
    its inference pipeline, reload the model and predict with it."""
    quiet_libraries(verbose)
    with reported(verbose):
        run_demo(folder.resolve())


def run_demo(folder: Path, rows: int = 5) -> None:
    """Create the demo project in ``folder`` (unless it is there), train it, log its inference
    pipeline, reload the model and predict, printing each step."""
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_magic import prepare_pipeline
    from kedro_mlflow_magic.compat import run_registered_pipeline
    from kedro_mlflow_magic.demo import create_demo_project
    from kedro_mlflow_magic.project import ProjectDescription

    if not (folder / "pyproject.toml").is_file():
        create_demo_project(folder)
        print(f"Created the demo Kedro project in {folder}")
    bootstrap_project(folder)
    with KedroSession.create(project_path=folder) as session:
        run_registered_pipeline(session, "training")
    print("Trained the encoder and the classifier (pipeline 'training')")

    with KedroSession.create(project_path=folder) as session:
        context = session.load_context()
        catalog = context.catalog
        sample = catalog.load("customers").drop(columns=["churned"]).head(100)
        started = time.perf_counter()
        prepared = prepare_pipeline(
            pipelines["inference"], catalog, "customers_to_score", sample,
            project=ProjectDescription.of_context(context),
        )  # fmt: skip
        print(prepared.roles)
        logged = prepared.log(progress=lambda step: print(f"  ... {step}"))
        info = logged.model_info
        print(f"Logged in {time.perf_counter() - started:.2f} s: {info.model_uri}")

    import mlflow

    from kedro_mlflow_magic.errors import masked_url

    model = mlflow.pyfunc.load_model(info.model_uri)
    print(
        f"Reloaded from {masked_url(mlflow.get_tracking_uri())}; predictions for {rows} customers:"
    )
    print(model.predict(sample.head(rows)).to_string(index=False))
    print("With params={'threshold': 0.2}:")
    print(model.predict(sample.head(rows), params={"threshold": 0.2}).to_string(index=False))
