"""Peak memory of one predict on a large batch, against Kedro's SequentialRunner on the same
pipeline and batch (issue 32): a chain of nodes that each build a new frame of about 64 MB
(8 million float64 values) from the previous one.

Each contender runs in a fresh Python process, which sets everything up (the project or the
model, the batch), runs once on 1,000 rows (lazy imports, first-call caches), then once on the
batch: its peak RSS (``ru_maxrss``) minus its RSS just before that call is what the call
needed. Contenders: Kedro's ``SequentialRunner`` (MemoryDatasets, as ``kedro run`` holds
them); our model through ``mlflow.pyfunc`` (MLflow's schema enforcement included); our
runtime's ``predict`` alone; and the same runtime holding every intermediate until the call
ends, as it did before intermediates were released.
Run: ``python benchmarks/bench_memory.py [--nodes 8] [--rows 8000000]`` (about 1 minute).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import projects

PACKAGE = "memory_bench"
DATA_INPUT = "batch"
OUTPUT = "scored"
NODES = '''\
def grow(frame):
    """A new frame: the value scaled and shifted (a new 64 MB column on 8M rows)."""
    return frame.assign(value=frame["value"] * 1.0001 + 1.0)
'''
CONTENDERS = {
    "kedro": "Kedro SequentialRunner",
    "pyfunc": "ours, mlflow.pyfunc predict",
    "runtime": "ours, runtime predict",
    "held": "ours, every intermediate held",
}


def pipelines_source(size: int) -> str:
    return f"""\
    def name(index):
        return "{DATA_INPUT}" if index == 0 else "{OUTPUT}" if index == {size} else f"frame_{{index}}"

    chain = pipeline([
        node(nodes.grow, name(index), name(index + 1), name=f"grow_{{index}}")
        for index in range({size})
    ])
    return {{"__default__": chain, "chain": chain}}
"""


def batch(rows: int) -> Any:
    import numpy as np
    import pandas as pd

    return pd.DataFrame({"value": np.arange(rows, dtype="float64")})


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def kedro_call(root: Path) -> Any:
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.runner import SequentialRunner

    bootstrap_project(root)
    chain = pipelines["chain"]

    def call(frame: Any) -> Any:
        catalog = DataCatalog(datasets={DATA_INPUT: MemoryDataset(frame)})
        return SequentialRunner().run(chain, catalog)[OUTPUT].load()

    return call


def model_call(mode: str, model_uri: str) -> Any:
    import mlflow

    model = mlflow.pyfunc.load_model(model_uri)
    if mode == "pyfunc":
        return model.predict
    runtime = model.unwrap_python_model()
    if mode == "held":  # the runtime as it was: nothing released before the call ends
        runtime.released = [() for _ in runtime.released]
        runtime.instrument(None, None)
    return lambda frame: runtime.predict(None, frame)


def child(mode: str, root: Path, model_uri: str, rows: int) -> None:
    """One contender in this fresh process: print its RSS before the call and its peak."""
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    call = kedro_call(root) if mode == "kedro" else model_call(mode, model_uri)
    call(batch(1000))
    frame = batch(rows)
    gc.collect()
    before = rss_bytes()
    result = call(frame)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"before": before, "peak": peak, "rows": len(result)}))


def log_model(root: Path, folder: Path) -> str:
    import mlflow
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_magic import log_pipeline_model

    bootstrap_project(root)
    with KedroSession.create(project_path=root) as session:
        catalog = session.load_context().catalog
        mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("memory", f"{folder}/art"))
        info = log_pipeline_model(pipelines["chain"], catalog, DATA_INPUT, batch(1000))
    return info.model_uri


def measure(mode: str, root: Path, model_uri: str, rows: int, tracking_uri: str) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--root", str(root),
               "--model", model_uri, "--rows", str(rows)]  # fmt: skip
    environment = dict(os.environ, MLFLOW_TRACKING_URI=tracking_uri)
    done = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--rows", type=int, default=8_000_000)
    parser.add_argument("--child", choices=list(CONTENDERS))
    parser.add_argument("--root", type=Path)
    parser.add_argument("--model", default="")
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child, arguments.root, arguments.model, arguments.rows)
        return 0
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    megabytes = arguments.rows * 8 / 2**20
    print(f"load average {os.getloadavg()[0]:.2f}, python {sys.version.split()[0]}")
    print(f"a chain of {arguments.nodes} nodes, each making a new frame of {megabytes:.0f} MiB "
          f"({arguments.rows:,} rows); peak RSS of one call, each in a fresh process")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as name:
        folder = Path(name)
        root = projects.write_project(
            folder / "project", NODES, pipelines_source(arguments.nodes), package=PACKAGE
        )
        model_uri = log_model(root, folder)
        tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
        results = {
            mode: measure(mode, root, model_uri, arguments.rows, tracking_uri)
            for mode in CONTENDERS
        }
    kedro = results["kedro"]["peak"] - results["kedro"]["before"]
    print(f"\n{'':<32}{'RSS before':>12}{'peak RSS':>12}{'call needed':>13}{'vs Kedro':>11}")
    for mode, title in CONTENDERS.items():
        before, peak = results[mode]["before"], results[mode]["peak"]
        needed = peak - before
        print(f"{title:<32}{before / 2**20:>9.0f} MiB{peak / 2**20:>8.0f} MiB"
              f"{needed / 2**20:>9.0f} MiB{(needed - kedro) / 2**20:>+7.0f} MiB")  # fmt: skip
    print(
        "'call needed': peak RSS minus RSS before the call (the batch included in 'before'); "
        "'vs Kedro': that minus Kedro's."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
