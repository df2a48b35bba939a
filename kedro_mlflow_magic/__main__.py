"""``python -m kedro_mlflow_magic demo [DIR]``: create, train, log and reload the demo project.
``python -m kedro_mlflow_magic --version``: the versions a bug report needs."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: The distributions whose versions a bug report needs, after this package and Python.
REPORTED_DISTRIBUTIONS = ("kedro", "kedro-datasets", "mlflow", "pandas", "numpy")


def installed_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def versions_report() -> str:
    """One ``name version`` line each for this package, Python, Kedro, kedro-datasets, MLflow,
    pandas and numpy, read from the installed metadata (nothing is imported), then the platform."""
    lines = [
        f"kedro-mlflow-magic {installed_version('kedro-mlflow-magic')}",
        f"Python {platform.python_version()} ({platform.python_implementation()})",
        *(f"{name} {installed_version(name)}" for name in REPORTED_DISTRIBUTIONS),
        f"platform {platform.platform()}",
    ]
    return "\n".join(lines)


class PrintVersions(argparse.Action):
    """``--version``: print :func:`versions_report` and exit, without needing a command."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(versions_report())
        parser.exit()


def quiet_libraries() -> None:
    """The demo prints its own progress: Kedro's and MLflow's INFO logs and Kedro's deprecation
    warnings about OmegaConf would bury it (both read these variables when imported)."""
    os.environ.setdefault(
        "KEDRO_LOGGING_CONFIG", str(Path(__file__).parent / "demo" / "logging.yml")
    )
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", message=".*register_new_resolver.*")


def run_demo(folder: Path, rows: int = 5) -> None:
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    quiet_libraries()
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_magic import prepare_pipeline
    from kedro_mlflow_magic.compat import run_registered_pipeline
    from kedro_mlflow_magic.demo import create_demo_project

    if not (folder / "pyproject.toml").is_file():
        create_demo_project(folder)
        print(f"Created the demo Kedro project in {folder}")
    bootstrap_project(folder)
    with KedroSession.create(project_path=folder) as session:
        run_registered_pipeline(session, "training")
    print("Trained the encoder and the classifier (pipeline 'training')")

    with KedroSession.create(project_path=folder) as session:
        catalog = session.load_context().catalog
        sample = catalog.load("customers").drop(columns=["churned"]).head(100)
        started = time.perf_counter()
        prepared = prepare_pipeline(
            pipelines["inference"], catalog, "customers_to_score", sample, project_path=folder
        )
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


def main(argv: list[str] | None = None) -> int:
    from kedro_mlflow_magic.cli import cli
    from kedro_mlflow_magic.cli import main as shell_main

    arguments = sys.argv[1:] if argv is None else argv
    if arguments and arguments[0] in cli.commands:  # inputs, log, predict...: the shell command
        return shell_main(arguments)

    parser = argparse.ArgumentParser(
        prog="kedro-mlflow-magic",
        epilog="The shell command's own commands: inputs, log, predict, check, diff, promote "
        "(kedro-mlflow-magic log --help).",
    )
    parser.add_argument(
        "--version", action=PrintVersions, help="print the versions a bug report needs and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="create, train, log and reload the demo project")
    demo.add_argument(
        "folder",
        nargs="?",
        default="kedro-mlflow-demo",
        type=Path,
        help="where to create the demo project (default: ./kedro-mlflow-demo)",
    )
    arguments = parser.parse_args(argv)
    run_demo(arguments.folder.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
