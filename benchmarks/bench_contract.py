"""The serving contract's cost at log time (issue 30): for a 1000-column frame whose pipeline
reads 3 columns, one that reads all 1000, a 12-column table with a label, and the demo's
customers with their label, side by side: one Kedro run on the sample, the contract's runs
(columns taken away in groups, at most ``COLUMN_RUNS``; rows alone and in small batches, at
most 5) and their time, the log without the contract (computed beforehand on the same prepared
pipeline) and the whole log (prepare, contract, log, reload, parity).
Run: ``python benchmarks/bench_contract.py`` (about 2 minutes).
"""

from __future__ import annotations

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

# the test suite's project writers (tests/projects.py)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import projects
from timing import best_of

REPEATS = 3  # each number is the minimum of this many
WIDE_COLUMNS, WIDE_ROWS = 1000, 200

NODES = '''\
"""Nodes reading some columns of their data input, or all of them."""


def three(frame):
    return frame[["count_0003", "score_0502", "flag_0998"]].sum(axis=1).to_frame("total")


def every(frame):
    return frame.sum(axis=1).to_frame("total")


def churn(customers):
    features = customers[[f"feature_{index}" for index in range(10)]]
    return features.sum(axis=1).rename("risk")
'''

PIPELINES = """\
return {
    "three": pipeline([node(nodes.three, "wide_in", "total", name="three")]),
    "every": pipeline([node(nodes.every, "wide_in", "total", name="every")]),
    "churn": pipeline([node(nodes.churn, "customers", "risk", name="churn")]),
}
"""


def churn_table(rows: int = 500) -> Any:
    import numpy as np
    import pandas as pd

    generator = np.random.default_rng(1)
    data = {f"feature_{index}": generator.normal(size=rows) for index in range(10)}
    return pd.DataFrame({"customer_id": np.arange(rows), **data, "churned": np.ones(rows, int)})


def trained_demo(folder: Path) -> tuple[Any, Any]:
    """The demo project trained, and its inference pipeline with its customers (label too)."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_magic.compat import run_registered_pipeline
    from kedro_mlflow_magic.demo import create_demo_project

    root = create_demo_project(folder / "demo", "churn_bench")
    bootstrap_project(root)
    with KedroSession.create(project_path=root) as session:
        run_registered_pipeline(session, "training")
    return open_project(root)


def open_project(root: Path) -> tuple[Any, Any]:
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(root)
    context = KedroSession.create(project_path=root).load_context()
    return dict(pipelines), context.catalog


def measure(pipeline: Any, catalog: Any, data_input: str, sample: Any) -> dict[str, Any]:
    from kedro_mlflow_magic import prepare_pipeline

    def prepared() -> Any:
        return prepare_pipeline(pipeline, catalog, data_input, sample)

    reference = prepared()
    _ = reference.sample_output
    one_run, _ = best_of(
        lambda: reference.run_in_session(reference.sample, reference.leaves), REPEATS
    )

    def contract() -> Any:
        fresh = prepared()
        _ = fresh.sample_output  # the reference run every log makes anyway
        started = time.perf_counter()
        _ = fresh.contract.columns, fresh.contract.batch
        return fresh, time.perf_counter() - started

    contract_seconds = min(contract()[1] for _ in range(REPEATS))

    def log_without_contract() -> float:
        fresh, _ = contract()
        started = time.perf_counter()
        fresh.log()
        return time.perf_counter() - started

    without = min(log_without_contract() for _ in range(REPEATS))
    whole, _ = best_of(lambda: prepared().log(), REPEATS)
    use = reference.contract.columns
    return {
        "frame": f"{len(sample.columns)} x {len(sample)}",
        "needed": len(use.needed),
        "not read": len(use.not_read),
        "unchecked": len(use.unchecked),
        "runs": use.runs,
        "one run": one_run,
        "contract": contract_seconds,
        "log w/o": without,
        "log": whole,
    }


def main() -> None:
    import mlflow

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="bench-contract-") as folder:
        mlflow.set_tracking_uri(f"sqlite:///{Path(folder) / 'mlflow.db'}")
        root = projects.write_project(Path(folder) / "project", NODES, PIPELINES)
        pipelines, catalog = open_project(root)
        wide = projects.wide_frame(WIDE_COLUMNS, WIDE_ROWS)
        cases = {
            "1000 columns, 3 read": (pipelines["three"], catalog, "wide_in", wide),
            "1000 columns, all read": (pipelines["every"], catalog, "wide_in", wide),
            "12 columns, label": (pipelines["churn"], catalog, "customers", churn_table()),
        }
        demo_pipelines, demo_catalog = trained_demo(Path(folder))
        customers = demo_catalog.load("customers").head(200)
        cases["demo, label"] = (
            demo_pipelines["inference"],
            demo_catalog,
            "customers_to_score",
            customers,
        )
        rows = {name: measure(*case) for name, case in cases.items()}
    print_table(rows)


def print_table(rows: dict[str, dict[str, Any]]) -> None:
    load = os.getloadavg()[0]
    headers = ["case", "frame", "needed", "not read", "unchecked", "column runs", "one run",
               "contract", "log w/o", "log"]  # fmt: skip
    print(f"load average {load:.1f}; times: minimum of {REPEATS}; the contract also runs the")
    print("pipeline on at most 5 small frames (3 rows alone, 2 batches of 4 rows)")
    print(" | ".join(headers))
    for name, row in rows.items():
        cells = [
            name, row["frame"], str(row["needed"]), str(row["not read"]), str(row["unchecked"]),
            str(row["runs"]), f"{row['one run'] * 1000:.0f} ms", f"{row['contract']:.2f} s",
            f"{row['log w/o']:.2f} s", f"{row['log']:.2f} s",
        ]  # fmt: skip
        print(" | ".join(cells))


if __name__ == "__main__":
    main()
