"""The runtime's per-call cost before and after a change, in one table: the demo's models (small
artifacts, and the 25 MB forest) logged once with another checkout of the package (``--before
PATH``, e.g. the main branch's) and once with this one, then loaded side by side in one process
(each model runs the runtime it ships, under its own content-derived name) and timed in the same
interleaved rounds, beside the direct node calls.
Run: ``python benchmarks/bench_before_after.py --before /path/to/other/checkout``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from demo_setup import create_project, direct_call, open_project, train
from timing import FunctionTimer, duration, signed, time_interleaved, timed_functions

HERE = Path(__file__).resolve().parent
DATA_INPUT = "customers_to_score"
ROWS = (1, 1_000)
BUDGET_SECONDS = 8
NODE_FUNCTIONS_CLASSIFIER = {"small": "classifier", "large": "forest"}
NODE_FUNCTIONS = ("encode_features", "score_customers")
OWN_TIME_ROUNDS = 400

LOG = """
import json, sys
sys.path.insert(0, {benchmarks!r})
from demo_setup import open_project
from kedro_mlflow_magic import log_pipeline_model
project = open_project(__import__("pathlib").Path({root!r}))
sample = project.customers(100, seed=3)
uris = {{}}
for size in ("small", "large"):
    info = log_pipeline_model(project.pipelines[size], project.catalog, {data_input!r}, sample,
                              name=f"{{size}}_{{sys.argv[1]}}", project_path=project.root)
    uris[size] = info.model_uri
print("URIS", json.dumps(uris))
"""


def log_with(checkout: Path, root: Path, label: str) -> dict[str, str]:
    """Log the demo's two models with the package of ``checkout``, in a process of its own."""
    script = LOG.format(benchmarks=str(HERE), root=str(root), data_input=DATA_INPUT)
    environment = dict(os.environ, PYTHONPATH=str(checkout))
    finished = subprocess.run(
        [sys.executable, "-c", script, label], env=environment, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    if finished.returncode != 0:
        raise RuntimeError(finished.stderr[-3000:])
    return json.loads(finished.stdout.split("URIS ", 1)[1].splitlines()[0])


def runtime_call(model: Any, frame: Any, defaults: dict[str, Any]) -> Any:
    return lambda: model.predict(None, frame, dict(defaults))


def loaded_runtimes(uris: dict[str, dict[str, str]], size: str) -> tuple[dict[str, Any], dict]:
    """The before and after models of ``size``, loaded (their runtimes: MLflow's schema
    enforcement left out), and the parameter defaults of their signature."""
    import mlflow

    models = {
        label: mlflow.pyfunc.load_model(uris[label][size]).unwrap_python_model()
        for label in ("before", "after")
    }
    defaults = {
        spec.name: spec.default
        for spec in mlflow.models.get_model_info(uris["after"][size]).signature.params
    }
    return models, defaults


def own_times(
    models: dict[str, Any], frame: Any, defaults: dict[str, Any], timer: FunctionTimer
) -> dict[str, list[int]]:
    """Per-call time (ns) of each runtime's own code: its predict's wall time minus the time
    spent in the node functions (timed by wrappers), in alternating rounds, no profiler."""
    import gc

    samples: dict[str, list[int]] = {label: [] for label in models}
    order = list(models)
    for round_index in range(OWN_TIME_ROUNDS):
        gc.collect(0)
        gc.disable()
        try:
            for label in order if round_index % 2 else reversed(order):
                timer.spent = 0
                started = time.perf_counter_ns()
                models[label].predict(None, frame, dict(defaults))
                samples[label].append(time.perf_counter_ns() - started - timer.spent)
        finally:
            gc.enable()
    return samples


def main() -> int:
    import mlflow

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    options = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    print("bench_before_after: the runtime's per-call cost (its PythonModel.predict, no schema")
    print(f"enforcement), before = {options.before}, after = {HERE.parent}; "
          f"load average {os.getloadavg()[0]:.2f} (shared machine: noisy)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-before-after-") as folder:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlflow.db"
        root = create_project(Path(folder) / "project")
        train(root)
        experiment = mlflow.create_experiment("bench", artifact_location=f"{folder}/artifacts")
        os.environ["MLFLOW_EXPERIMENT_ID"] = experiment
        uris = {
            "before": log_with(options.before.resolve(), root, "before"),
            "after": log_with(HERE.parent, root, "after"),
        }
        project = open_project(root)
        header = (
            f"{'model':<8}{'rows':>7}{'rounds':>8}{'direct nodes':>15}{'before: runtime':>24}"
            f"{'after: runtime':>24}{'after - before':>16}"
        )
        print(header)
        print("-" * len(header))
        for size, classifier_name in NODE_FUNCTIONS_CLASSIFIER.items():
            models, defaults = loaded_runtimes(uris, size)
            direct = direct_call(project, classifier_name)
            for count in ROWS:
                frame = project.customers(count)
                calls = {"direct": lambda d=direct, f=frame: d(f)}
                calls |= {
                    label: runtime_call(model, frame, defaults) for label, model in models.items()
                }
                timings = time_interleaved(calls, "direct", BUDGET_SECONDS)
                difference = statistics.median(
                    after - before
                    for after, before in zip(
                        timings["after"].samples, timings["before"].samples, strict=True
                    )
                )
                cells = [
                    f"{duration(timings[label].median)} ({signed(timings[label].overhead)})"
                    for label in ("before", "after")
                ]
                print(
                    f"{size:<8}{count:>7,}{len(timings['direct'].samples):>8}"
                    f"{duration(timings['direct'].median):>15}{cells[0]:>24}{cells[1]:>24}"
                    f"{signed(difference):>16}"
                )
        print("\nThe runtimes' own code per call (predict minus the node functions, timed by")
        print(f"wrappers; {OWN_TIME_ROUNDS} alternating calls each, no profiler):")
        print(f"{'model':<8}{'rows':>7}{'before':>12}{'after':>12}{'after - before':>16}")
        for size in NODE_FUNCTIONS_CLASSIFIER:
            with timed_functions(project.nodes, NODE_FUNCTIONS) as timer:
                timed, defaults = loaded_runtimes(uris, size)
            for count in ROWS:
                samples = own_times(timed, project.customers(count), defaults, timer)
                before, after = (statistics.median(samples[label]) for label in ("before", "after"))
                paired = statistics.median(
                    a - b for a, b in zip(samples["after"], samples["before"], strict=True)
                )
                print(
                    f"{size:<8}{count:>7,}{duration(before):>12}{duration(after):>12}"
                    f"{signed(paired):>16}"
                )
    print("(overhead) = median over rounds of (runtime call - direct call of the same round);")
    print("after - before = median over rounds of the paired difference of the two runtimes.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
