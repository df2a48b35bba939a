"""What the fresh-process check of the shipped code adds to a log (docs/guides/what-ships.md).

The check imports every node function from the logged model's own code folder in a fresh
Python process without the project or this package; it runs beside the parity check (the
"verifying" step), so what a log pays is what that step waits for beyond the parity check.

On the trained demo project (``demo_setup``), after one warm-up log, logs with the check and
logs with it replaced by nothing are interleaved (``ROUNDS`` of each); for each the whole log
and its "verifying" step are timed (``progress`` callback). Printed side by side: the medians,
the median of the paired differences (what the check adds), and the check on its own (download
of the model's code folder, the fresh process, its verdict) as it would cost if it ran after
the other verification instead of beside it.

    python benchmarks/bench_code_check.py      # ~2 min
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from demo_setup import create_project, open_project, train

ROUNDS = 5


class PhaseClock:
    """A ``progress`` callback that notes when each step starts."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def __call__(self, step: str) -> None:
        self.started[step] = time.perf_counter()

    def between(self, first: str, then: str) -> float:
        return self.started[then] - self.started[first]


@contextlib.contextmanager
def no_check(*_arguments: Any) -> Iterator[None]:
    yield


def timed_log(project: Any, sample: Any, checked: bool) -> tuple[float, float]:
    """(whole log, its verifying step) in seconds, with or without the code check."""
    from kedro_mlflow_magic import log_pipeline_model, prepared, progress
    from kedro_mlflow_magic.verify.code_check import code_checked

    prepared.code_checked = code_checked if checked else no_check  # type: ignore[assignment]
    clock = PhaseClock()
    started = time.perf_counter()
    log_pipeline_model(
        project.pipelines["small"], project.catalog, "customers_to_score", sample,
        progress=clock,
    )  # fmt: skip
    whole = time.perf_counter() - started
    return whole, clock.between(progress.VERIFYING, progress.DONE)


def check_alone(project: Any, sample: Any) -> float:
    """The check on its own, on a logged model: download, fresh process, verdict."""
    from kedro_mlflow_magic import prepare_pipeline
    from kedro_mlflow_magic.build.shipped_code import project_root_for, shipped_packages
    from kedro_mlflow_magic.verify.code_check import code_checked

    prepared = prepare_pipeline(
        project.pipelines["small"], project.catalog, "customers_to_score", sample
    )
    info = prepared.log().model_info
    packages = shipped_packages(prepared.pipeline)
    started = time.perf_counter()
    with code_checked(info, prepared.pipeline, packages, project_root_for(packages, None)):
        pass
    return time.perf_counter() - started


def main() -> None:
    import mlflow

    with tempfile.TemporaryDirectory(prefix="bench-code-check-") as scratch:
        folder = Path(scratch)
        mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
        root = create_project(folder / "project")
        train(root)
        project = open_project(root)
        sample = project.customers(50)
        timed_log(project, sample, checked=True)  # warm-up: imports, the store's tables
        results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for round_number in range(ROUNDS):
            for checked in (True, False) if round_number % 2 == 0 else (False, True):
                results[checked].append(timed_log(project, sample, checked))
        alone = [check_alone(project, sample) for _ in range(ROUNDS)]

    def median(values: list[float]) -> float:
        return statistics.median(values)

    with_check, without = results[True], results[False]
    added_log = median([a[0] - b[0] for a, b in zip(with_check, without, strict=True)])
    added_verify = median([a[1] - b[1] for a, b in zip(with_check, without, strict=True)])
    print(f"load average {os.getloadavg()[0]:.1f}; the demo's inference model, 50 rows, "
          f"{ROUNDS} logs of each, interleaved")  # fmt: skip
    print(f"{'':<34}{'whole log':>12}{'verifying':>12}")
    print(f"{'with the code check (beside)':<34}{median([w for w, _ in with_check]):>11.2f}s"
          f"{median([v for _, v in with_check]):>11.2f}s")  # fmt: skip
    print(f"{'without it':<34}{median([w for w, _ in without]):>11.2f}s"
          f"{median([v for _, v in without]):>11.2f}s")  # fmt: skip
    print(f"{'added (median of paired diffs)':<34}{added_log:>11.2f}s{added_verify:>11.2f}s")
    print(f"{'the check alone (if run after)':<34}{median(alone):>11.2f}s")
    print("target: the check adds under 1 s to a log")


if __name__ == "__main__":
    main()
