"""``python -m kedro_mlflow_magic ...``: the shell command (``kedro_mlflow_magic.cli``), as the
``kedro-mlflow-magic`` console script runs it."""

from __future__ import annotations

import sys

from kedro_mlflow_magic.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
