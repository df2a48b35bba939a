"""The shell command: one click group, ``cli``, with ``inputs``, ``log``, ``predict``, ``check``
and ``demo``, and ``--version``.

Two ways in, one group:
- ``kedro-mlflow-magic ...`` (the console script, and ``python -m kedro_mlflow_magic ...``);
- ``kedro mlflow-magic ...`` inside a Kedro project (Kedro loads ``project_commands`` from the
  ``kedro.project_commands`` entry point).

A face over the core: each command parses, describes the project once
(``ProjectDescription``, from a real ``KedroSession``), calls the core and prints. Exit codes:
0 when it did what was asked (``check``: the model agrees), 1 for a failure (``check``: the
model fails or disagrees in its environment), 2 for a user's mistake; one line on stderr, the
traceback and Kedro's and MLflow's logs only with ``--verbose``.

Kedro imports this package for every ``kedro`` command in an environment where we are
installed: its modules import click and our errors only; Kedro and MLflow are imported by a
command. One module per concern: ``group`` (the group, its one-line errors and exit codes,
``main``), ``noise`` (what the shell keeps quiet), ``options`` and ``files`` (what the commands
share), ``pipelines`` (``inputs``, ``log``), ``models`` (``predict``, ``check``), ``demo`` and
``version``.
"""

from __future__ import annotations

from kedro_mlflow_magic.cli import demo, models, pipelines, review  # noqa: F401 (they add the commands)
from kedro_mlflow_magic.cli.group import cli, main, project_commands

__all__ = ["cli", "main", "project_commands"]
