"""How long ``check_environment`` takes: cold (no environment, uv's package cache empty), with the
environment to build but uv's cache warm, and with the environment cached.

Each case runs in a fresh process, as ``kedro-mlflow-magic check`` does, which checks twice: the
first check pays for importing MLflow's loading machinery and loading the model here once; the
second is what a notebook pays after its first check. Everything lives in a temporary folder
(the demo project, its sqlite store, the environments and uv's cache) and is removed at the end.

    python benchmarks/bench_environment_check.py      # ~2 min
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from demo_setup import create_project, open_project, train

CHECK_TWICE = """
import json, sys, time
started = time.perf_counter()
from kedro_mlflow_magic import check_environment
imported = time.perf_counter() - started
runs = []
for _ in range(2):
    started = time.perf_counter()
    checked = check_environment(sys.argv[1])
    runs.append([time.perf_counter() - started, checked.build_seconds, checked.cached, checked.agree])
print(json.dumps({"imported": imported, "runs": runs, "packages": len(checked.installed)}))
"""


def log_demo(folder: Path) -> tuple[str, str]:
    import mlflow

    from kedro_mlflow_magic import log_pipeline_model

    tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)
    root = create_project(folder / "project")
    train(root)
    project = open_project(root)
    info = log_pipeline_model(
        project.pipelines["small"], project.catalog, "customers_to_score", project.customers(50)
    )
    return info.model_uri, tracking_uri


def check_in_fresh_process(model_uri: str, variables: dict[str, str]) -> dict:
    finished = subprocess.run(
        [sys.executable, "-c", CHECK_TWICE, model_uri],
        env={**os.environ, **variables}, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if finished.returncode != 0:
        raise SystemExit(finished.stderr[-3000:])
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    bin_folder = str(Path(sys.executable).parent)
    with tempfile.TemporaryDirectory(prefix="bench-environment-check-") as scratch:
        folder = Path(scratch)
        model_uri, tracking_uri = log_demo(folder)
        base = {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "KEDRO_DISABLE_TELEMETRY": "true",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "UV_CACHE_DIR": str(folder / "uv-cache"),  # empty at first: a cold machine
            "PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        cases = [
            ("cold (no environment, uv cache empty)", {"KEDRO_MLFLOW_MAGIC_ENVS": "envs-a"}),
            ("environment to build, uv cache warm", {"KEDRO_MLFLOW_MAGIC_ENVS": "envs-b"}),
            ("environment cached", {"KEDRO_MLFLOW_MAGIC_ENVS": "envs-b"}),
        ]
        rows = []
        for label, variables in cases:
            variables = {key: str(folder / value) for key, value in variables.items()}
            measured = check_in_fresh_process(model_uri, {**base, **variables})
            (first, build, cached, agree), (second, *_rest) = measured["runs"]
            rows.append((label, measured["imported"], first, build, cached, second, agree))
        print(f"load average {os.getloadavg()[0]:.1f}; the demo's model, "
              f"{measured['packages']} packages in its environment")  # fmt: skip
        header = ("case", "import", "1st check", "of it: build", "reused", "2nd check", "agree")
        print(f"{header[0]:<40} " + " ".join(f"{name:>12}" for name in header[1:]))
        for label, imported, first, build, cached, second, agree in rows:
            print(
                f"{label:<40} {imported:>11.1f}s {first:>11.1f}s {build:>11.1f}s "
                f"{cached!s:>12} {second:>11.1f}s {agree!s:>12}"
            )


if __name__ == "__main__":
    main()
