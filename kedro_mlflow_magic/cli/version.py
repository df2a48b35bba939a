"""``--version``: the versions a bug report needs, read from the installed metadata (nothing is
imported)."""

from __future__ import annotations

import platform
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click

#: The distributions whose versions a bug report needs, after this package and Python.
REPORTED_DISTRIBUTIONS = ("kedro", "kedro-datasets", "mlflow", "pandas", "numpy")


def installed_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def versions_report() -> str:
    """One ``name version`` line each for this package, Python, Kedro, kedro-datasets, MLflow,
    pandas and numpy, then the platform."""
    lines = [
        f"kedro-mlflow-magic {installed_version('kedro-mlflow-magic')}",
        f"Python {platform.python_version()} ({platform.python_implementation()})",
        *(f"{name} {installed_version(name)}" for name in REPORTED_DISTRIBUTIONS),
        f"platform {platform.platform()}",
    ]
    return "\n".join(lines)


def print_versions(ctx: click.Context, _parameter: Any, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(versions_report())
        ctx.exit(0)


def version_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--version``: print ``versions_report`` and exit 0, without needing a command."""
    return click.option(
        "--version",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=print_versions,
        help="print the versions a bug report needs and exit",
    )(function)
