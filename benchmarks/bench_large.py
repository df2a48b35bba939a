"""Large pipelines and wide frames (issue 22), in one table: for pipelines of 100, 300
and 1000 nodes (``large_project.py``: namespaces of 25, a chain of pandas steps each reading
one artifact and one parameter), the picture's Mermaid text, predict against the node functions
called directly and against a hand-written floor model (the minimum of interleaved calls;
MLflow's cost per call apart), one Kedro run, log + verify beyond a 25-node log into the same
store, and the model's load time; then the signature editor's build time for a frame of 1000
columns.
Run: ``python benchmarks/bench_large.py [--clock cpu] [--sizes 100 300]`` (about 4 minutes).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from large_project import DATA_INPUT, PACKAGE, create_project, open_project, sample, wide_frame
from timing import best_of, duration, own_time_without_profiler, time_interleaved, timed_functions

SIZES = (100, 300, 1000)
BUDGET_SECONDS = 12
ROWS = 50
REPEATS = 3  # Kedro runs, logs and loads: the minimum of this many
EDITOR_COLUMNS = 1000
OWN_CALLS = 40


def mermaid_chars(pipeline: Any, inputs: Any) -> int:
    from kedro_mlflow_magic.inspect.mermaid import picture_bundle

    return len(picture_bundle(pipeline, inputs)["text/plain"])


def kedro_run(pipeline: Any, catalog: Any, inputs: Any, frame: Any) -> Any:
    """One SequentialRunner run of the pipeline on ``frame`` (what the parity check runs)."""
    from kedro_mlflow_magic.verify.reference_run import run_in_session

    output = next(iter(pipeline.outputs()))
    return run_in_session(pipeline, catalog, inputs, frame, dict(inputs.parameters), output)


def editor_build_seconds(project: Any) -> float:
    from kedro_mlflow_magic import prepare_pipeline
    from kedro_mlflow_magic.widgets import SignatureEditor

    frame = wide_frame(EDITOR_COLUMNS)
    prepared = prepare_pipeline(project.pipelines["wide"], project.catalog, "wide_in", frame)
    prepared.signature()  # inferred once (cached): the editor's own build is timed
    seconds, _ = best_of(lambda: SignatureEditor(prepared), REPEATS)
    return seconds


def measure(
    project: Any, size: int, frame: Any, log_sample: Any, base_log: float, clock: Any
) -> tuple:
    """One row of the table: the pipeline of ``size`` nodes pictured, run, logged, loaded and
    predicted."""
    import mlflow

    from kedro_mlflow_magic import inspect_pipeline, log_pipeline_model

    pipeline = project.pipelines[f"nodes_{size}"]
    inputs = inspect_pipeline(pipeline, project.catalog, DATA_INPUT)
    chars = mermaid_chars(pipeline, inputs)
    run_seconds, _ = best_of(
        lambda: kedro_run(pipeline, project.catalog, inputs, log_sample), REPEATS
    )
    log_seconds, info = best_of(
        lambda: log_pipeline_model(pipeline, project.catalog, DATA_INPUT, log_sample), 2
    )
    load_seconds, model = best_of(lambda: mlflow.pyfunc.load_model(info.model_uri), REPEATS)
    runtime = model.unwrap_python_model()
    defaults = {spec.name: spec.default for spec in info.signature.params.params}
    direct, chain = project.direct_call(size), project.direct_chain(size)
    floor = mlflow.pyfunc.load_model(project.log_floor(size, info.signature))
    timings = time_interleaved(
        {
            "direct": lambda: direct(frame),
            "chain": lambda: chain(frame),
            "floor": lambda: floor.predict(frame),
            "predict": lambda: model.predict(frame),
            "runtime": lambda: runtime.predict(None, frame, defaults),
        },
        baseline="direct",
        budget_seconds=BUDGET_SECONDS,
        max_rounds=200,
        clock=clock,
    )
    best = {name: min(timing.samples) for name, timing in timings.items()}
    # the runtime's own code per call, without a profiler: the model loaded afresh while the
    # node function is a timing wrapper (the runtime looks it up in the project's module)
    nodes = importlib.import_module(f"{PACKAGE}.nodes")
    with timed_functions(nodes, ("step",)) as timer:
        timed = mlflow.pyfunc.load_model(info.model_uri).unwrap_python_model()
        timed_direct = project.direct_call(size, nodes.step)
        own = own_time_without_profiler(
            lambda: timed.predict(None, frame, defaults), timer, OWN_CALLS
        )
        # the same measure of the direct loop: what is outside the node functions anyway
        # (freeing each node's frame at the end of the call, most of it)
        best["own"] = own - own_time_without_profiler(lambda: timed_direct(frame), timer, OWN_CALLS)
    print(f"  measured N={size}", flush=True)
    return size, chars, best, run_seconds, log_seconds - base_log, log_seconds, load_seconds


def print_tables(rows: list[tuple], editor: float | None, base_log: float, clock: str) -> None:
    print(f"\n{'N':>5} {'Mermaid':>9} {'Kedro run':>10} {'log+verify':>11} {'beyond 25':>10} "
          f"{'x run':>6} {'load':>8}")  # fmt: skip
    for size, chars, _, run_seconds, beyond, log_seconds, load_seconds in rows:
        print(f"{size:>5} {chars:>9,} {duration(run_seconds * 1e9):>10} "
              f"{duration(log_seconds * 1e9):>11} {duration(beyond * 1e9):>10} "
              f"{beyond / run_seconds:>6.1f} {duration(load_seconds * 1e9):>8}")  # fmt: skip
    print(f"\npredict per call ({clock} time, minimum of interleaved calls on {ROWS} rows)")
    print(f"{'N':>5} {'predict':>9} {'floor':>9} {'runtime':>9} {'chain':>9} {'direct':>9} "
          f"{'MLflow':>8} {'ours/node':>10} {'e2e/node':>9} {'vs held':>8} {'own/node':>9}")  # fmt: skip
    for size, _, best, *_ in rows:
        per_node = {
            "ours": (best["runtime"] - best["chain"]) / size,
            "e2e": (best["predict"] - best["floor"]) / size,
            "held": (best["runtime"] - best["direct"]) / size,
        }
        print(
            f"{size:>5} {duration(best['predict']):>9} {duration(best['floor']):>9} "
            f"{duration(best['runtime']):>9} {duration(best['chain']):>9} "
            f"{duration(best['direct']):>9} {duration(best['floor'] - best['chain']):>8} "
            f"{per_node['ours'] / 1e3:>+7.2f} µs {per_node['e2e'] / 1e3:>+6.2f} µs "
            f"{per_node['held'] / 1e3:>+5.2f} µs {best['own'] / size / 1e3:>6.2f} µs"
        )
    if editor is not None:
        print(f"\nsignature editor, {EDITOR_COLUMNS} columns: built in "
              f"{duration(editor * 1e9)} (target <= 0.5 s)")  # fmt: skip
    print(
        "predict: our model through mlflow.pyfunc; floor: a hand-written PythonModel calling "
        "the node functions (large_floor_model.py), same signature, loaded the same way; "
        "runtime: our model's predict without MLflow; chain: the node functions called each on "
        "the frame the one before made; direct: the same, every frame kept in a dict to the "
        "end. MLflow: floor - chain, MLflow's cost per call, apart. 'ours/node': (runtime - "
        "chain) / N; 'e2e/node': (predict - floor) / N, end to end (target <= 2 µs); "
        "'vs held': (runtime - direct) / N. 'own/node': the runtime's own code per call over "
        f"the direct loop's, each its wall time minus the node functions' (median of "
        f"{OWN_CALLS} calls), / N. Kedro run, log and load: the minimum of a few. 'beyond 25': "
        f"this log minus a 25-node log into the same store ({duration(base_log * 1e9)}); "
        "'x run': that over one Kedro run (target <= 3). Mermaid's default limit is 50,000 "
        "characters."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall",
        help="time calls by the wall clock, or by this thread's CPU time (a busy machine)",
    )  # fmt: skip
    parser.add_argument("--skip-editor", action="store_true", help="leave out the editor")
    arguments = parser.parse_args()
    clock = time.perf_counter_ns if arguments.clock == "wall" else time.thread_time_ns
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    import mlflow

    from kedro_mlflow_magic import log_pipeline_model

    print(f"load average {os.getloadavg()[0]:.2f}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as folder:
        root = create_project(Path(folder) / "project")
        mlflow.set_tracking_uri(f"sqlite:///{Path(folder) / 'mlflow.db'}")
        experiment = mlflow.create_experiment(
            "bench_large", artifact_location=f"{folder}/artifacts"
        )
        mlflow.set_experiment(experiment_id=experiment)
        project = open_project(root)
        frame = sample(ROWS)
        log_sample = sample(ROWS, seed=4)
        # the 25-node log: what a log costs whatever the size (store, MLflow, environment)
        small = project.pipelines["nodes_25"]
        log_pipeline_model(small, project.catalog, DATA_INPUT, log_sample)
        base_log, _ = best_of(
            lambda: log_pipeline_model(small, project.catalog, DATA_INPUT, log_sample), 2
        )
        rows = [
            measure(project, size, frame, log_sample, base_log, clock) for size in arguments.sizes
        ]
        editor = None if arguments.skip_editor else editor_build_seconds(project)
        project.session.close()

    print_tables(rows, editor, base_log, arguments.clock)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
