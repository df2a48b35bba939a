"""The options several commands share, declared once: ``--project``, ``--env``, ``--verbose``,
and PIPELINE with ``--input`` and ``--freeze`` as in the magics."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import click


def names(values: Iterable[str]) -> tuple[str, ...]:
    """``--freeze a --freeze b`` or ``--freeze a,b``."""
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


def project_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--project",
        metavar="PATH",
        default=None,
        help="the Kedro project (default: the one the current folder is in)",
    )(function)


def env_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--env",
        "-e",
        metavar="ENV",
        default=None,
        help="the Kedro configuration environment: conf/ENV over conf/base, as kedro run "
        "--env ENV reads it (its mlflow.yml and credentials included); default: local",
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


def project_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--project, --env and --verbose, which every command that reads a project takes."""
    return project_option(env_option(verbose_option(function)))
