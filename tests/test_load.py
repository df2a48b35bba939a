"""Load (docs/explanation/behaviour.md#predicting): many concurrent in-process predictions with
different parameters, each answer right, and memory that stays flat over thousands of calls."""

from __future__ import annotations

import gc
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from model_files import assert_model_is_clean
from projects import write_project
from sessions import load_project

from kedro_mlflow_magic import log_pipeline_model

THREADS = 8
CALLS_PER_THREAD = 500
MEMORY_CALLS = 10_000
MEMORY_MARGIN_BYTES = 16 * 1024 * 1024
TRACED_CALLS = 2_000
TRACED_MARGIN_BYTES = 128 * 1024  # a leak of 64 bytes a call would show
SECRET = "load-test-secret-5e1f"

NODES = """
import numpy as np
import pandas as pd


def score(frame: pd.DataFrame, weights: dict, factor: float) -> pd.DataFrame:
    return frame.assign(score=frame["value"] * weights["w"] * factor + weights["b"])


def label(scored: pd.DataFrame, labels: dict) -> pd.DataFrame:
    high = scored["score"] >= labels["cut"]
    return scored.assign(label=np.where(high, labels["high"], labels["low"]))
"""

PIPELINES = """
scoring = pipeline([
    node(nodes.score, ["rows", "weights", "params:factor"], "scored"),
    node(nodes.label, ["scored", "params:labels"], "labelled"),
])
return {"__default__": scoring, "scoring": scoring}
"""

CATALOG = """
weights:
  type: pickle.PickleDataset
  filepath: data/06_models/weights.pkl
"""

PARAMETERS = """
factor: 1.0
labels:
  cut: 10.0
  high: high
  low: low
"""

WEIGHTS = {"w": 2.0, "b": 1.0}


def write_scoring_project(root: Path, package: str) -> Path:
    """A small scoring project: one pickled artifact, a scalar and a nested parameter."""
    return write_project(
        root, NODES, PIPELINES, catalog=CATALOG, parameters=PARAMETERS,
        credentials=f"api:\n  token: {SECRET}\n", package=package,
        pickles={"data/06_models/weights.pkl": WEIGHTS},
    )  # fmt: skip


def frame_of(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"value": np.arange(rows, dtype=float)})


def expected(frame: pd.DataFrame, factor: float, high: str, cut: float = 10.0) -> pd.DataFrame:
    score = frame["value"] * WEIGHTS["w"] * factor + WEIGHTS["b"]
    return frame.assign(score=score, label=np.where(score >= cut, high, "low"))


@pytest.fixture(scope="module")
def scoring_model(tmp_path_factory: pytest.TempPathFactory, mlflow_store: str):
    """The scoring pipeline logged once for this module, loaded in this process."""
    import mlflow

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        root = write_scoring_project(tmp_path_factory.mktemp("load") / "scoring", "load_scoring")
        project = load_project(root)
        info = log_pipeline_model(
            project.pipelines["scoring"], project.catalog, "rows", frame_of(20)
        )
        assert_model_is_clean(info.model_uri, secrets=[SECRET], allowed_pickles={"weights.pkl"})
        return mlflow.pyfunc.load_model(info.model_uri)


@pytest.mark.slow
def test_concurrent_calls_with_different_parameters_all_get_their_own_answer(
    scoring_model,
) -> None:
    def calls(thread: int) -> int:
        right = 0
        for call in range(CALLS_PER_THREAD):
            factor = thread + 1 + call / 1000
            high = f"high-{thread}-{call % 7}"
            frame = frame_of(3 + (thread + call) % 5)
            params = {"factor": factor, "labels.high": high}
            predicted = scoring_model.predict(frame, params=params)
            pd.testing.assert_frame_equal(predicted, expected(frame, factor, high))
            right += 1
        return right

    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(calls, range(THREADS)))
    assert answers == [CALLS_PER_THREAD] * THREADS
    # the defaults are untouched by all those overrides
    pd.testing.assert_frame_equal(
        scoring_model.predict(frame_of(8)), expected(frame_of(8), 1.0, "high")
    )


def resident_bytes() -> int:
    """The process's resident memory, from /proc/self/status (VmRSS, in kB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.slow
def test_memory_stays_flat_over_ten_thousand_predictions(scoring_model) -> None:
    frame = frame_of(10)

    def predict_many(count: int) -> None:
        for call in range(count):
            scoring_model.predict(frame, params={"factor": 1.0 + call % 3, "labels.cut": 5.0})

    predict_many(1_000)  # warm caches and allocator pools first
    gc.collect()
    before = resident_bytes()
    predict_many(MEMORY_CALLS)
    gc.collect()
    growth = resident_bytes() - before
    print(f"resident memory growth over {MEMORY_CALLS} predictions: {growth / 1024:.0f} kB")
    assert growth < MEMORY_MARGIN_BYTES

    # finer: Python-level allocations still alive after a further batch of calls
    tracemalloc.start()
    try:
        predict_many(100)
        gc.collect()
        traced_before, _ = tracemalloc.get_traced_memory()
        predict_many(TRACED_CALLS)
        gc.collect()
        traced_growth = tracemalloc.get_traced_memory()[0] - traced_before
        if traced_growth >= TRACED_MARGIN_BYTES:
            top = tracemalloc.take_snapshot().statistics("lineno")[:5]
            print("largest live allocations:", *top, sep="\n  ")
    finally:
        tracemalloc.stop()
    print(f"traced allocations alive after {TRACED_CALLS} more: {traced_growth} bytes")
    assert traced_growth < TRACED_MARGIN_BYTES
