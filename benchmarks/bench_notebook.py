"""Time from a fresh Jupyter kernel to the first logged model of the demo (issue 3), step by
step, and ``%load_ext kedro_mlflow_magic`` alone. Run: ``python benchmarks/bench_notebook.py``.

Each repetition starts a real kernel (jupyter_client) on a copy of the trained demo project,
with no ``MLFLOW_TRACKING_URI``: runs go to the project's own sqlite store
(docs/explanation/behaviour.md#where-runs-go). The first kernel creates that store (a user's very
first log); the next ones find it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"

from timing import duration

REPEATS = 2
# A person reads the summary of %reload_kedro and types the log's cell: the warm-up (MLflow's
# imports, the project's tracking store) runs in the background meanwhile.
PAUSE = 10.0
SAMPLE = 'sample = catalog.load("customers").drop(columns=["churned"]).head(100)'
LOG = "info = %kedro_log_model inference --input customers_to_score --sample sample"
STEPS = ("kernel start", "%load_ext", "%reload_kedro", "sample cell", "%kedro_log_model (first)")


def trained_demo(folder: Path) -> Path:
    """The shipped demo project, trained (in a subprocess-free Kedro session)."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from kedro_mlflow_magic.demo import create_demo_project

    root = create_demo_project(folder / "template", "churn_demo")
    bootstrap_project(root)
    with KedroSession.create(project_path=root) as session:
        session.run(pipeline_name="training")
    return root


def kernel_environment() -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MLFLOW_TRACKING", "MLFLOW_EXPERIMENT"))
    }
    environment.update(KEDRO_DISABLE_TELEMETRY="true", MLFLOW_DISABLE_TELEMETRY="true")
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    return environment


def run_cell(client: Any, code: str) -> float:
    """Execute ``code`` in the kernel and return its wall time (s); fail loudly on an error."""
    errors: list[str] = []

    def collect(message: dict[str, Any]) -> None:
        content = message["content"]
        if message["msg_type"] == "error":
            errors.append("\n".join(content["traceback"]))
        elif message["msg_type"] == "stream" and content["name"] == "stderr":
            errors.append(content["text"])

    started = time.perf_counter()
    reply = client.execute_interactive(code, timeout=300, output_hook=collect)
    elapsed = time.perf_counter() - started
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell {code!r} failed:\n" + "\n".join(errors))
    return elapsed


@contextlib.contextmanager
def fresh_kernel(folder: Path) -> Iterator[Any]:
    """A python3 kernel started in ``folder`` (``kernel_environment``), its client once it is
    ready; shut down afterwards."""
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(folder), env=kernel_environment())
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def one_session(project: Path, notebooks: Path, pause: float = 0.0) -> dict[str, float]:
    """A fresh kernel: time each step to the first logged model (``pause`` seconds after the
    sample cell, as a person would take), then a second log."""
    times: dict[str, float] = {}
    started = time.perf_counter()
    with fresh_kernel(notebooks) as client:
        times["kernel start"] = time.perf_counter() - started
        times["%load_ext"] = run_cell(client, "%load_ext kedro_mlflow_magic")
        times["%reload_kedro"] = run_cell(client, f"%reload_kedro {project}")
        times["sample cell"] = run_cell(client, SAMPLE)
        time.sleep(pause)
        times["%kedro_log_model (first)"] = run_cell(client, LOG)
        times["to first model"] = time.perf_counter() - started
        times["%kedro_log_model (again)"] = run_cell(client, LOG)
    return times


def load_ext_alone(folder: Path) -> float:
    """``%load_ext kedro_mlflow_magic`` in a fresh kernel, outside any project."""
    with fresh_kernel(folder) as client:
        return run_cell(client, "%load_ext kedro_mlflow_magic")


def main() -> int:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)  # the training run's Kedro logs: not what is measured
    started = time.perf_counter()
    print("bench_notebook: fresh kernel -> first logged model of the demo (medians)")
    print(f"{os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f} "
          "(the machine is shared: numbers are noisy)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-notebook-") as folder:
        root = Path(folder)
        template = trained_demo(root)
        project = Path(shutil.copytree(template, root / "project"))
        notebooks = root / "notebooks"
        notebooks.mkdir()
        new_store = one_session(project, notebooks)
        paused_project = Path(shutil.copytree(template, root / "paused"))
        new_store_paused = one_session(paused_project, notebooks, PAUSE)
        sessions = [one_session(project, notebooks) for _ in range(REPEATS)]
        paused = [one_session(project, notebooks, PAUSE) for _ in range(REPEATS)]
        alone = []
        for index in range(REPEATS):
            empty = root / f"alone_{index}"
            empty.mkdir()
            alone.append(load_ext_alone(empty))

    names = [*STEPS, "to first model", "%kedro_log_model (again)"]
    print(f"\n{'':<30}{'new store':>12}{'existing store':>18}{'min':>10}{'max':>10}")
    print(f"{'step':<30}{'(1 kernel)':>12}{f'(median of {REPEATS})':>18}")
    for name in names:
        values = [times[name] for times in sessions]
        cells = [duration(value * 1e9) for value in (statistics.median(values), min(values), max(values))]  # fmt: skip
        print(f"{name:<30}{duration(new_store[name] * 1e9):>12}{cells[0]:>18}{cells[1]:>10}{cells[2]:>10}")  # fmt: skip
    alone_cells = [duration(v * 1e9) for v in (statistics.median(alone), min(alone), max(alone))]
    print(f"{'%load_ext alone (no project)':<30}{'':>12}{alone_cells[0]:>18}{alone_cells[1]:>10}{alone_cells[2]:>10}")  # fmt: skip
    print("'to first model': from starting the kernel to the end of the first %kedro_log_model; "
          "'new store': that log also creates the project's sqlite store (MLflow's alembic "
          "migrations); 'again': a second log in the same kernel.")  # fmt: skip
    print(f"\nFirst log {PAUSE:.0f} s after the sample cell (the warm-up had time to run):")
    print(f"{'':<30}{'new store':>12}{'existing store':>18}")
    for name in ("%kedro_log_model (first)", "%kedro_log_model (again)"):
        median = statistics.median(times[name] for times in paused)
        print(f"{name:<30}{duration(new_store_paused[name] * 1e9):>12}{duration(median * 1e9):>18}")  # fmt: skip
    ratios = [times["%kedro_log_model (first)"] / times["%kedro_log_model (again)"] for times in paused]  # fmt: skip
    print(f"first / warm log, existing store, paused: {statistics.median(ratios):.2f} (goal <= 1.5); "
          f"new store: {new_store_paused['%kedro_log_model (first)'] / new_store_paused['%kedro_log_model (again)']:.2f}")  # fmt: skip
    print(f"\nWhole run: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
