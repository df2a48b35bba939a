"""Predict overhead, log time and load time of our models, side by side with the floor
(docs/explanation/benchmarks.md#how-we-measure) and with kedro-mlflow's KedroPipelineModel.
Run: ``python benchmarks/bench_predict.py``.

Everything happens in one process, in a temporary folder, with a sqlite MLflow store.
"""

from __future__ import annotations

import inspect
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

from demo_setup import BenchProject, create_project, direct_call, open_project, train
from kedro_mlflow_side import find_kedro_pipeline_model, log_kedro_mlflow_model
from timing import (
    Timing,
    duration,
    own_time_per_call,
    own_time_without_profiler,
    signed,
    time_interleaved,
    time_repeated,
    timed_functions,
)
from tracing_side import print_tracing_table

FLOOR_FILE = Path(__file__).with_name("floor_model.py")
DATA_INPUT = "customers_to_score"
SAMPLE_ROWS = 100
ROWS = (1, 1_000, 100_000)
BUDGET_SECONDS = 5  # per model and row count: as many interleaved rounds as fit (5 to 300)
NODE_FUNCTIONS = ("encode_features", "score_customers")
UNPROFILED_CALLS = {1: 200, 100_000: 5}  # calls timed for the runtime's own code, by rows
LOG_REPEATS = 3
LOAD_REPEATS = 5
TARGETS = (
    "Targets: overhead <= 0.3 ms per call whatever the artifact size "
    "(kedro-mlflow measured ~18 ms tiny / ~49 ms with 26 MB); "
    "log + parity <= 1.5 s on the demo (kedro-mlflow ~4 s)."
)


@dataclass
class Contenders:
    """The models of one size, loaded, and what calling the nodes directly needs."""

    size: str
    ours: Any
    floor: Any
    kedro_mlflow: Any | None
    direct: Callable[[Any], Any]
    defaults: dict[str, Any]


def pipeline_result(pipeline: Any, catalog: Any, frame: Any) -> Any:
    """What Kedro's SequentialRunner gives on ``frame``, with the session's artifacts and params."""
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.runner import SequentialRunner

    datasets = {name: catalog.get(name) for name in pipeline.inputs() if name != DATA_INPUT}
    datasets[DATA_INPUT] = MemoryDataset(frame)
    results = SequentialRunner().run(pipeline, DataCatalog(datasets=datasets))
    return results["predictions"].load()


def log_ours(project: BenchProject, size: str, sample: Any) -> tuple[Any, dict[str, float]]:
    """Log with ``log_pipeline_model`` (which reloads and checks parity); time each phase."""
    from kedro_mlflow_magic import log_pipeline_model

    marks: dict[str, int] = {"start": time.perf_counter_ns()}
    info = log_pipeline_model(
        project.pipelines[size], project.catalog, DATA_INPUT, sample, name=f"ours_{size}",
        project_path=project.root, progress=lambda step: marks.setdefault(step, time.perf_counter_ns()),
    )  # fmt: skip
    phases = {
        "total": marks["done"] - marks["start"],
        "log": marks["verifying"] - marks["logging"],
        "verify": marks["done"] - marks["verifying"],
    }
    return info, {name: value / 1e9 for name, value in phases.items()}


def log_floor(project: BenchProject, size: str, signature: Any) -> str:
    import mlflow

    classifier = "classifier" if size == "small" else "forest"
    with mlflow.start_run(run_name=f"floor_{size}"):
        info = mlflow.pyfunc.log_model(
            name=f"floor_{size}", python_model=str(FLOOR_FILE),
            model_config={"nodes_module": project.nodes.__name__},
            artifacts={"encoder": project.model_file("encoder"),
                       "classifier": project.model_file(classifier)},
            signature=signature, pip_requirements=["mlflow", "scikit-learn"],
        )  # fmt: skip
    return info.model_uri


def log_and_verify_kedro_mlflow(
    model_class: type, project: BenchProject, size: str, sample: Any
) -> tuple[str, dict[str, float]]:
    """kedro-mlflow's log, then the same verification ours does (reload, predict the 5-row
    example, compare with the pipeline run), timed apart."""
    import mlflow

    from kedro_mlflow_magic.verify.parity import compare_results

    pipeline, example = project.pipelines[size], sample.head(5)
    started = time.perf_counter_ns()
    with mlflow.start_run(run_name=f"kedro_mlflow_{size}"):
        uri = log_kedro_mlflow_model(
            model_class, pipeline, project.catalog, DATA_INPUT, sample, f"kedro_mlflow_{size}"
        )
    logged = time.perf_counter_ns()
    reloaded = mlflow.pyfunc.load_model(uri)
    comparison = compare_results(
        reloaded.predict(example), pipeline_result(pipeline, project.catalog, example)
    )
    verified = time.perf_counter_ns()
    if not comparison:
        print(f"  ! kedro-mlflow's {size} model disagrees with the pipeline: {comparison.detail}")
    phases = {"total": verified - started, "log": logged - started, "verify": verified - logged}
    return uri, {name: value / 1e9 for name, value in phases.items()}


def check_agreement(contenders: Contenders, frame: Any) -> list[str]:
    """Every contender must give what the direct calls give, or the timings compare nothing."""
    from kedro_mlflow_magic.verify.parity import compare_results

    expected = contenders.direct(frame)
    calls = {
        "ours": lambda: contenders.ours.predict(frame),
        "ours runtime": lambda: contenders.ours.unwrap_python_model().predict(
            None, frame, dict(contenders.defaults)
        ),
        "floor": lambda: contenders.floor.predict(frame),
    }
    if contenders.kedro_mlflow is not None:
        calls["kedro-mlflow"] = lambda: contenders.kedro_mlflow.predict(frame)
    return [
        f"{name}: {comparison.detail}"
        for name, call in calls.items()
        if not (comparison := compare_results(call(), expected))
    ]


def time_predictions(contenders: Contenders, frame: Any) -> dict[str, Timing]:
    runtime_model = contenders.ours.unwrap_python_model()
    defaults = contenders.defaults
    calls: dict[str, Callable[[], Any]] = {
        "direct": lambda: contenders.direct(frame),
        "ours": lambda: contenders.ours.predict(frame),
        "runtime": lambda: runtime_model.predict(None, frame, dict(defaults)),
        "floor": lambda: contenders.floor.predict(frame),
    }
    if contenders.kedro_mlflow is not None:
        calls["kedro-mlflow"] = lambda: contenders.kedro_mlflow.predict(frame)
    return time_interleaved(calls, "direct", BUDGET_SECONDS)


def runtime_own_cost(contenders: Contenders, frame: Any) -> float:
    """Per-call time of our runtime's own code (not the node functions), by cProfile."""
    runtime_model = contenders.ours.unwrap_python_model()
    return own_time_per_call(
        lambda: runtime_model.predict(None, frame, dict(contenders.defaults)),
        # the model's own copy of the runtime (code/kedro_mlflow_magic_runtime_<hash>/model.py)
        owner=(inspect.getfile(type(runtime_model)), "predict"),
        inner=set(NODE_FUNCTIONS),
        calls=40 if len(frame) == 1 else 1,
    )


def load_with_timed_nodes(project: BenchProject, model_uri: str) -> tuple[Any, Any]:
    """Our model loaded afresh while the node functions are timing wrappers (the runtime looks
    them up in the project's module, already imported): (its PythonModel, the timer)."""
    import mlflow

    with timed_functions(project.nodes, NODE_FUNCTIONS) as timer:
        model = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    return model, timer


def runtime_own_cost_unprofiled(timed_model: tuple[Any, Any], frame: Any, defaults: dict) -> float:
    """Per-call time of our runtime's own code without a profiler: predict's wall time minus
    the node functions' (median of calls)."""
    model, timer = timed_model
    timer.spent = 0
    model.predict(None, frame, dict(defaults))
    if not timer.spent:
        raise RuntimeError("the model did not call the timed node functions")
    return own_time_without_profiler(
        lambda: model.predict(None, frame, dict(defaults)), timer, UNPROFILED_CALLS[len(frame)]
    )


def paired(first: Timing, second: Timing) -> float:
    """Median over rounds of (first - second): e.g. MLflow's share = ours - our runtime."""
    return statistics.median(a - b for a, b in zip(first.samples, second.samples, strict=True))


def megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1e5 else f"{count / 1e3:.0f} kB"


def print_predict_table(
    rows: list[tuple[str, int, dict[str, Timing]]], artifact_bytes: dict[str, int]
) -> None:
    columns = ["direct", "ours", "runtime", "floor", "kedro-mlflow"]
    titles = {
        "direct": "direct nodes", "ours": "(a) ours pyfunc", "runtime": "(b) ours runtime",
        "floor": "(c) floor pyfunc", "kedro-mlflow": "(d) kedro-mlflow",
    }  # fmt: skip
    header = f"{'model (artifacts)':<19}{'rows':>8}{'rounds':>7}" + "".join(
        f"{titles[c]:>22}" for c in columns
    )
    header += f"{'MLflow share (a-b)':>20}{'ours-floor (a-c)':>18}"
    print(header)
    print("-" * len(header))
    for size, count, timings in rows:
        label = f"{size} {megabytes(artifact_bytes[size])}"
        cells = []
        for column in columns:
            timing = timings.get(column)
            if timing is None:
                cells.append(f"{'n/a':>22}")
            elif column == "direct":
                cells.append(f"{duration(timing.median):>22}")
            else:
                text = f"{duration(timing.median)} ({signed(timing.overhead)})"
                cells.append(f"{text:>22}")
        share = paired(timings["ours"], timings["runtime"])
        over_floor = paired(timings["ours"], timings["floor"])
        print(
            f"{label:<19}{count:>8,}{len(timings['direct'].samples):>7}"
            + "".join(cells)
            + f"{signed(share):>20}{signed(over_floor):>18}"
        )


def print_log_table(ours: dict[str, dict], theirs: dict[str, dict], loads: dict) -> None:
    print(f"{'':<38}{'ours':>12}{'kedro-mlflow':>14}{'floor':>10}")
    for size in ("small", "large"):
        for phase, title in (("total", "log + parity"), ("log", "  of which logging"),
                             ("verify", "  of which reload + parity")):  # fmt: skip
            mine = ours[size].get(phase)
            other = theirs.get(size, {}).get(phase)
            print(f"{f'{size}: {title} (s)':<38}{mine:>12.2f}"
                  f"{(f'{other:.2f}' if other is not None else 'n/a'):>14}{'':>10}")  # fmt: skip
        load = loads[size]
        cells = [load.get(name) for name in ("ours", "kedro-mlflow", "floor")]
        texts = [duration(value * 1e9) if value is not None else "n/a" for value in cells]
        print(f"{f'{size}: load_model':<38}{texts[0]:>12}{texts[1]:>14}{texts[2]:>10}")


def main() -> int:
    import mlflow
    import pandas as pd

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    model_class, kedro_mlflow_note = find_kedro_pipeline_model()
    print("bench_predict: per-call overhead, log and load time (one run, medians)")
    print(f"Python {sys.version.split()[0]}, kedro {version('kedro')}, mlflow {version('mlflow')}, "
          f"pandas {pd.__version__}, scikit-learn {version('scikit-learn')}, {kedro_mlflow_note}")  # fmt: skip
    print(f"{os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f} "
          "(the machine is shared: numbers are noisy)")  # fmt: skip
    print(TARGETS)

    with tempfile.TemporaryDirectory(prefix="bench-predict-") as folder:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlflow.db"
        root = create_project(Path(folder) / "project")
        train(root)
        project = open_project(root)
        experiment = mlflow.create_experiment("bench", artifact_location=f"{folder}/artifacts")
        mlflow.set_experiment(experiment_id=experiment)
        sample = project.customers(SAMPLE_ROWS, seed=3)
        artifact_bytes = {
            size: os.path.getsize(project.model_file("encoder")) + os.path.getsize(
                project.model_file(classifier))
            for size, classifier in (("small", "classifier"), ("large", "forest"))
        }  # fmt: skip

        print(f"\nLogging (setup took {time.perf_counter() - started:.1f} s) ...")
        log_ours(project, "small", sample)  # warm-up: first-call imports and store setup
        ours_logs: dict[str, dict] = {}
        infos: dict[str, Any] = {}
        for size, repeats in (("small", LOG_REPEATS), ("large", 1)):
            runs = [log_ours(project, size, sample) for _ in range(repeats)]
            infos[size] = runs[-1][0]
            ours_logs[size] = {
                phase: statistics.median(run[1][phase] for run in runs)
                for phase in ("total", "log", "verify")
            }
        their_logs: dict[str, dict] = {}
        their_uris: dict[str, str] = {}
        if model_class is not None:
            for size, repeats in (("small", 2), ("large", 1)):
                runs = [log_and_verify_kedro_mlflow(model_class, project, size, sample)
                        for _ in range(repeats)]  # fmt: skip
                their_uris[size] = runs[-1][0]
                their_logs[size] = {
                    phase: statistics.median(run[1][phase] for run in runs)
                    for phase in ("total", "log", "verify")
                }
        floor_uris = {size: log_floor(project, size, infos[size].signature) for size in infos}

        loads: dict[str, dict] = {}
        for size in ("small", "large"):
            uris = {"ours": infos[size].model_uri, "floor": floor_uris[size]}
            if size in their_uris:
                uris["kedro-mlflow"] = their_uris[size]
            loads[size] = {
                name: time_repeated(lambda uri=uri: mlflow.pyfunc.load_model(uri), LOAD_REPEATS)
                for name, uri in uris.items()
            }

        print("Predicting ...")
        results = []
        own_costs: dict[tuple[str, int], float] = {}
        own_costs_unprofiled: dict[tuple[str, int], float] = {}
        for size, classifier in (("small", "classifier"), ("large", "forest")):
            contenders = Contenders(
                size,
                ours=mlflow.pyfunc.load_model(infos[size].model_uri),
                floor=mlflow.pyfunc.load_model(floor_uris[size]),
                kedro_mlflow=mlflow.pyfunc.load_model(their_uris[size]) if size in their_uris else None,
                direct=direct_call(project, classifier),
                defaults={spec.name: spec.default for spec in infos[size].signature.params},
            )  # fmt: skip
            timed_model = load_with_timed_nodes(project, infos[size].model_uri)
            for count in ROWS:
                frame = project.customers(count)
                for problem in check_agreement(contenders, frame):
                    print(f"  ! {size}, {count} rows: disagrees with the direct calls: {problem}")
                results.append((size, count, time_predictions(contenders, frame)))
                if count in (1, max(ROWS)):
                    own_costs[(size, count)] = runtime_own_cost(contenders, frame)
                    own_costs_unprofiled[(size, count)] = runtime_own_cost_unprofiled(
                        timed_model, frame, contenders.defaults
                    )
        print_tracing_table(project, sample, infos["small"].model_uri, DATA_INPUT)

    print("\nPer-call predict time: median, and (overhead) = median of paired differences with "
          "the direct node calls of the same round")  # fmt: skip
    print("(a) mlflow.pyfunc.load_model(...).predict; (b) its PythonModel's predict(None, df, "
          "params) without MLflow's schema enforcement; (c) hand-written PythonModel calling "
          "the nodes (the floor); (d) kedro-mlflow's KedroPipelineModel")  # fmt: skip
    print(
        f"Rounds: as many as fit in {BUDGET_SECONDS} s per line (5 to 300), after 2 warm-up rounds; shuffled order, young garbage collected between rounds."
    )
    print_predict_table(results, artifact_bytes)
    print(
        "Our runtime's own code per call (cProfile: runtime predict minus the node functions; "
        "an upper bound): "
        + ", ".join(
            f"{size} {rows:,} rows {duration(cost)}" for (size, rows), cost in own_costs.items()
        )
    )
    print(
        "The same without a profiler (predict's wall time minus the node functions', timed by "
        f"wrappers; median of {UNPROFILED_CALLS[1]} calls at 1 row, "
        f"{UNPROFILED_CALLS[100_000]} at 100,000): "
        + ", ".join(
            f"{size} {rows:,} rows {duration(cost)}"
            for (size, rows), cost in own_costs_unprofiled.items()
        )
    )
    print(f"\nLog and load (median of {LOG_REPEATS} logs of ours for small, 2 of kedro-mlflow; "
          f"1 each for large; load: median of {LOAD_REPEATS})")  # fmt: skip
    print("kedro-mlflow: its hook's logging (cloudpickled KedroPipelineModel, signature 'auto', "
          "MLflow infers requirements) + the same reload-and-compare ours does")  # fmt: skip
    print_log_table(ours_logs, their_logs, loads)
    print(TARGETS)
    print(f"\nWhole run: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
