"""What checking the artifacts' files at load time adds to loading a model: a model whose artifact
is a 25 MB pickle (a numpy array), loaded with ``mlflow.pyfunc.load_model`` from a local folder,
as logged (each artifact file's sha256 checked against the manifest before it is loaded) and as a
copy of the same folder whose manifest has no digests (a model logged before they were
recorded: loaded unchecked), in interleaved rounds; and the check alone, and sha256 alone, on
the same file. Run: ``python benchmarks/bench_integrity.py [--sizes 25 100] [--rounds 15]``.

The files are in the page cache after the first round (as on a server that just downloaded the
model): what is measured is hashing, not the disk.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import projects  # the test suite's project writer (tests/projects.py)
from timing import duration, signed

from kedro_mlflow_magic.runtime import MANIFEST_KEY
from kedro_mlflow_magic.runtime.integrity import check_artifacts, file_sha256

NODES = """\
def score(frame, table):
    return frame.assign(score=frame["value"] * float(table[0]))
"""
PIPELINES = 'return {"scoring": pipeline([node(nodes.score, ["rows", "table"], "scores")])}'
CATALOG = """\
table:
  type: pickle.PickleDataset
  filepath: data/06_models/table.pkl
"""


def logged_folder(workspace: Path, megabytes: int) -> Path:
    """A project whose artifact is a ``megabytes`` MB pickle, its pipeline logged, and the
    logged model's folder downloaded into ``workspace``."""
    import mlflow
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_magic import log_pipeline_model

    package = f"integrity_bench_{megabytes}"
    table = np.random.default_rng(0).random(megabytes * 2**20 // 8)
    root = projects.write_project(
        workspace / package, NODES, PIPELINES, CATALOG,
        pickles={"data/06_models/table.pkl": table}, package=package,
    )  # fmt: skip
    bootstrap_project(root)
    with KedroSession.create(project_path=root) as session:
        catalog = session.load_context().catalog
        info = log_pipeline_model(
            pipelines["scoring"], catalog, "rows", pd.DataFrame({"value": [1.0, 2.0, 3.0]})
        )
    return Path(
        mlflow.artifacts.download_artifacts(
            info.model_uri, dst_path=str(workspace / f"model_{megabytes}")
        )
    )


def without_digests(folder: Path, destination: Path) -> Path:
    """A copy of the model folder whose manifest records no digests."""
    copy = Path(shutil.copytree(folder, destination))
    metadata = yaml.safe_load((copy / "MLmodel").read_text())
    wrapped = metadata["flavors"]["python_function"]["config"][MANIFEST_KEY]
    manifest = json.loads(wrapped[0])
    for entry in manifest["artifacts"]:
        entry.pop("sha256", None)
    wrapped[0] = json.dumps(manifest)
    (copy / "MLmodel").write_text(yaml.safe_dump(metadata))
    return copy


def interleaved(calls: dict[str, object], rounds: int) -> dict[str, list[int]]:
    """Each call once per round, in a shuffled order; times in ns."""
    times: dict[str, list[int]] = {name: [] for name in calls}
    order = list(calls)
    shuffler = random.Random(0)
    for name in order:  # warm-up: imports, page cache
        calls[name]()  # type: ignore[operator]
    for _ in range(rounds):
        shuffler.shuffle(order)
        for name in order:
            started = time.perf_counter_ns()
            calls[name]()  # type: ignore[operator]
            times[name].append(time.perf_counter_ns() - started)
    return times


def measure(workspace: Path, megabytes: int, rounds: int) -> None:
    import mlflow

    checked = logged_folder(workspace, megabytes)
    unchecked = without_digests(checked, workspace / f"unchecked_{megabytes}")
    manifest_config = yaml.safe_load((checked / "MLmodel").read_text())["flavors"][
        "python_function"
    ]["config"]
    entries = json.loads(manifest_config[MANIFEST_KEY][0])["artifacts"]
    folders = {
        entry["artifact"]: str(checked / "artifacts" / entry["artifact"]) for entry in entries
    }
    artifact_file = checked / "artifacts" / "table" / "table.pkl"
    size = artifact_file.stat().st_size
    in_memory = artifact_file.read_bytes()
    times = interleaved(
        {
            "load, checked": lambda: mlflow.pyfunc.load_model(str(checked)),
            "load, unchecked": lambda: mlflow.pyfunc.load_model(str(unchecked)),
            "the check alone": lambda: check_artifacts(entries, folders),
            "sha256 of the file": lambda: file_sha256(str(artifact_file)),
            "sha256 in memory": lambda: hashlib.sha256(in_memory).hexdigest(),
        },
        rounds,
    )
    medians = {name: statistics.median(samples) for name, samples in times.items()}
    added = statistics.median(
        a - b for a, b in zip(times["load, checked"], times["load, unchecked"], strict=True)
    )
    rate = size / (medians["sha256 of the file"] / 1e9) / 2**20
    print(f"\nartifact: one pickle of {size / 2**20:.1f} MB; {rounds} rounds, medians")
    print(f"  {'load, unchecked (no digests)':34} {duration(medians['load, unchecked']):>10}")
    print(f"  {'load, checked (as logged)':34} {duration(medians['load, checked']):>10}")
    print(f"  {'  what the check adds (paired)':34} {signed(added):>10}")
    print(f"  {'the check alone':34} {duration(medians['the check alone']):>10}")
    print(
        f"  {'sha256 of the file alone':34} {duration(medians['sha256 of the file']):>10}  ({rate:.0f} MB/s)"
    )
    memory_rate = size / (medians["sha256 in memory"] / 1e9) / 2**20
    print(
        f"  {'sha256 of its bytes in memory':34} {duration(medians['sha256 in memory']):>10}  ({memory_rate:.0f} MB/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25], help="artifact sizes, MB")
    parser.add_argument("--rounds", type=int, default=15)
    arguments = parser.parse_args()
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    print(
        f"Python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory(prefix="bench-integrity-") as scratch:
        workspace = Path(scratch)
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{workspace / 'mlflow.db'}")
        for megabytes in arguments.sizes:
            measure(workspace, megabytes, arguments.rounds)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
