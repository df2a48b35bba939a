"""Quiet calls (docs/explanation/behaviour.md#the-magics) when MLflow is imported during the call:
its import configures its loggers (level from MLFLOW_LOGGING_LEVEL, its own handler) over the level
the call set."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """\
import logging, os, sys
from kedro_mlflow_magic.quiet import quiet_third_party

assert "mlflow" not in sys.modules
with quiet_third_party():
    import mlflow  # as a hook or a lazy import does, in the middle of one of our calls
    logging.getLogger("mlflow.pyfunc").info("DURING-INFO")
    logging.getLogger("mlflow.models").warning("DURING-WARNING")
print("VARIABLE", os.environ.get("MLFLOW_LOGGING_LEVEL"))
logging.getLogger("mlflow.pyfunc").info("AFTER-INFO")
"""


@pytest.mark.slow
def test_mlflow_imported_during_a_quiet_call_stays_quiet_and_is_itself_after() -> None:
    finished = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=True
    )
    printed = finished.stdout + finished.stderr
    assert "DURING" not in printed
    # after the call MLflow's loggers are as its import makes them: INFO, on its own stream
    assert "INFO mlflow.pyfunc: AFTER-INFO" in finished.stderr
    assert "VARIABLE None" in finished.stdout
