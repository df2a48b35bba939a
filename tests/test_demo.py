"""``python -m kedro_mlflow_magic demo DIR``: creates, trains, logs and reloads the demo project."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


@pytest.mark.slow
def test_the_demo_command_prints_a_model_uri_that_loads_and_its_predictions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    folder = tmp_path / "demo project"
    environment = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    finished = subprocess.run(
        [sys.executable, "-m", "kedro_mlflow_magic", "demo", str(folder)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    output = finished.stdout
    model_uri = re.search(r"Logged in [0-9.]+ s: (models:/\S+)", output).group(1)
    printed = output.split("predictions for 5 customers:", 1)[1].split("With params=", 1)[0]
    printed_rows = [line.split() for line in printed.strip().splitlines()]
    assert printed_rows[0] == ["customer_id", "churn_probability", "label"]
    assert [row[0] for row in printed_rows[1:]] == ["1", "2", "3", "4", "5"]

    # the runs went to the project's own sqlite store; the printed URI loads from there
    assert (folder / "mlflow.db").is_file()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model(model_uri)
    customers = pd.read_csv(folder / "data" / "01_raw" / "customers.csv")
    predicted = model.predict(customers.drop(columns=["churned"]).head(5))
    assert [row[2] for row in printed_rows[1:]] == list(predicted["label"])
    assert [float(row[1]) for row in printed_rows[1:]] == list(predicted["churn_probability"])
