"""Served throughput and latency of our model, side by side with the floor
(docs/explanation/benchmarks.md#how-we-measure) and with kedro-mlflow's KedroPipelineModel, each
behind ``mlflow models serve`` on 127.0.0.1; then Spark scoring (``spark_udf``) against the pandas
path. Run: ``python benchmarks/bench_serving.py``.

Everything happens in a temporary folder with a sqlite MLflow store; the servers run one at a
time, their requests interleaved in rounds so that the shared machine's load falls on all alike.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import requests
from bench_predict import DATA_INPUT, log_floor
from demo_setup import BenchProject, create_project, open_project, train
from kedro_mlflow_side import PRIVATE_SITE, find_kedro_pipeline_model, log_kedro_mlflow_model

VENV_BIN = Path(sys.executable).parent
REQUESTS = 400  # per contender and number of clients
ROUNDS = 4  # the requests of a setting are sent in this many interleaved rounds
CLIENTS = (1, 4)
WARMUP_REQUESTS = 20
SPARK_ROWS = 1_000_000
ARROW_BATCH = 10_000  # Spark's default spark.sql.execution.arrow.maxRecordsPerBatch
TARGET = "Target: ours >= 90% of the floor's requests per second."


@dataclass
class Server:
    """One ``mlflow models serve`` process group and its URL."""

    name: str
    url: str
    process: subprocess.Popen
    log: Path


@dataclass
class Measure:
    """Requests of one contender at one concurrency: total wall time and per-request latencies."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    name: str, model_uri: str, folder: Path, python_path: list[str], tracking_uri: str
) -> Server:
    """``mlflow models serve --env-manager local`` in a process group of its own."""
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["PATH"] = f"{VENV_BIN}{os.pathsep}{environment.get('PATH', '')}"
    environment["MLFLOW_TRACKING_URI"] = tracking_uri
    if python_path:
        environment["PYTHONPATH"] = os.pathsep.join(python_path)
    log = folder / f"server-{name}.log"
    command = [
        str(VENV_BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
        "-h", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=folder, env=environment, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    wait_until_ready(server)
    return server


def wait_until_ready(server: Server, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name}'s server exited:\n{server.log.read_text()[-2000:]}")
        try:
            if requests.get(f"{server.url}/ping", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{server.name}'s server did not answer /ping in {timeout}s")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


def send(url: str, body: str, count: int, latencies: list[float], start: threading.Barrier) -> None:
    """One client: ``count`` requests one after the other on a kept-alive connection."""
    with requests.Session() as session:
        headers = {"Content-Type": "application/json"}
        start.wait()
        for _ in range(count):
            began = time.perf_counter()
            response = session.post(f"{url}/invocations", data=body, headers=headers, timeout=60)
            latencies.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")


def run_clients(
    server: Server, body: str, clients: int, requests_in_all: int, into: Measure
) -> None:
    """``clients`` concurrent clients sharing ``requests_in_all`` requests; adds to ``into``."""
    start = threading.Barrier(clients + 1)
    per_client = [[] for _ in range(clients)]
    threads = [
        threading.Thread(
            target=send, args=(server.url, body, requests_in_all // clients, latencies, start)
        )
        for latencies in per_client
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    into.seconds += time.perf_counter() - began
    for latencies in per_client:
        into.latencies.extend(latencies)


def measure_servers(servers: list[Server], body: str) -> dict[tuple[str, int], Measure]:
    """For each number of clients, ``REQUESTS`` per server in ``ROUNDS`` interleaved rounds."""
    measures = {(server.name, clients): Measure() for server in servers for clients in CLIENTS}
    for server in servers:
        run_clients(server, body, 1, WARMUP_REQUESTS, Measure())
    for clients in CLIENTS:
        for _ in range(ROUNDS):
            for server in servers:
                run_clients(
                    server, body, clients, REQUESTS // ROUNDS, measures[server.name, clients]
                )
    return measures


def served_prediction(server: Server, body: str) -> Any:
    response = requests.post(
        f"{server.url}/invocations", data=body, headers={"Content-Type": "application/json"},
        timeout=60,
    )  # fmt: skip
    response.raise_for_status()
    return response.json()["predictions"]


def print_serving_table(measures: dict[tuple[str, int], Measure], names: list[str]) -> None:
    floor = {clients: measures["floor", clients].per_second for clients in CLIENTS}
    header = (
        f"{'model':<14}{'clients':>8}{'requests':>10}{'req/s':>9}{'% of floor':>12}"
        f"{'p50 latency':>13}{'p95 latency':>13}"
    )
    print(header)
    print("-" * len(header))
    for clients in CLIENTS:
        for name in names:
            measure = measures.get((name, clients))
            if measure is None:
                print(f"{name:<14}{clients:>8}{'n/a':>10}")
                continue
            share = measure.per_second / floor[clients] * 100
            print(
                f"{name:<14}{clients:>8}{len(measure.latencies):>10}{measure.per_second:>9.0f}"
                f"{share:>11.0f}%{measure.percentile(0.5) * 1e3:>10.2f} ms"
                f"{measure.percentile(0.95) * 1e3:>10.2f} ms"
            )


def benchmark_serving(
    project: BenchProject, folder: Path, tracking_uri: str, sample: Any
) -> tuple[str, dict]:
    """Log the three contenders, serve each, check they agree, measure them."""
    import mlflow

    from kedro_mlflow_magic import log_pipeline_model

    model_class, kedro_mlflow_note = find_kedro_pipeline_model()
    print(f"contenders: ours, floor, {kedro_mlflow_note}")
    ours = log_pipeline_model(
        project.pipelines["small"], project.catalog, DATA_INPUT, sample, name="ours",
        project_path=project.root,
    )  # fmt: skip
    uris = {"ours": ours.model_uri, "floor": log_floor(project, "small", ours.signature)}
    if model_class is not None:
        with mlflow.start_run(run_name="kedro_mlflow"):
            uris["kedro-mlflow"] = log_kedro_mlflow_model(
                model_class, project.pipelines["small"], project.catalog, DATA_INPUT, sample,
                "kedro_mlflow",
            )  # fmt: skip
    source = str(project.root / "src")
    python_paths = {"ours": [], "floor": [source], "kedro-mlflow": [str(PRIVATE_SITE), source]}
    body = sample.head(1).to_json(orient="split", index=False)
    body = f'{{"dataframe_split": {body}}}'
    servers: list[Server] = []
    try:
        for name, uri in uris.items():
            servers.append(start_server(name, uri, folder, python_paths[name], tracking_uri))
        answers = {server.name: served_prediction(server, body) for server in servers}
        for name, answer in answers.items():
            if answer != answers["ours"]:
                print(f"  ! {name} answers {answer}, ours {answers['ours']}")
        print(f"one-row answer (all agree unless marked !): {answers['ours']}")
        measures = measure_servers(servers, body)
    finally:
        for server in servers:
            stop(server)
    return ours.model_uri, {"measures": measures, "names": list(uris)}


def spark_session() -> Any:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("bench-serving")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def benchmark_spark(model_uri: str, project: BenchProject) -> None:
    """Rows per second on SPARK_ROWS rows: the pandas path (one predict call) against spark_udf
    on a cached Spark DataFrame (2 local workers), written to Spark's no-op sink."""
    import mlflow
    from pyspark.sql import functions

    frame = project.customers(SPARK_ROWS)
    model = mlflow.pyfunc.load_model(model_uri)
    model.predict(frame.head(1000))
    began = time.perf_counter()
    expected = model.predict(frame)
    pandas_seconds = time.perf_counter() - began
    began = time.perf_counter()
    for start in range(0, SPARK_ROWS, ARROW_BATCH):
        model.predict(frame.iloc[start : start + ARROW_BATCH])
    batched_seconds = time.perf_counter() - began

    spark = spark_session()
    try:
        customers = spark.createDataFrame(frame).repartition(2).cache()
        customers.count()
        predict = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local")
        scored = customers.select(predict(functions.struct(*customers.columns)).alias("p"))
        times = []
        for _ in range(2):  # the first run starts the Python workers and loads the model
            began = time.perf_counter()
            scored.select("p.*").write.format("noop").mode("overwrite").save()
            times.append(time.perf_counter() - began)
        total = scored.select(functions.sum("p.churn_probability")).first()[0]
    finally:
        spark.stop()
    agree = abs(total - expected["churn_probability"].sum()) < 1e-6 * SPARK_ROWS
    print(f"\nSpark: {SPARK_ROWS:,} rows, local[2], Arrow batches of {ARROW_BATCH:,} rows")
    print(f"{'path':<38}{'seconds':>9}{'rows/s':>12}")
    print(
        f"{'pandas: model.predict(frame)':<38}{pandas_seconds:>9.2f}{SPARK_ROWS / pandas_seconds:>12,.0f}"
    )
    rows = (
        ("pandas: predict per 10,000-row batch", batched_seconds),
        ("spark_udf, first run (cold workers)", times[0]),
        ("spark_udf, second run", times[1]),
    )
    for label, seconds in rows:
        print(f"{label:<38}{seconds:>9.2f}{SPARK_ROWS / seconds:>12,.0f}")
    print(f"sum of churn_probability: spark {total:.3f}, pandas {expected['churn_probability'].sum():.3f}"
          f" ({'agree' if agree else 'DISAGREE'})")  # fmt: skip


def main() -> int:
    import mlflow

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    print("bench_serving: mlflow models serve, 1-row requests on 127.0.0.1; Spark scoring")
    print(f"Python {sys.version.split()[0]}, kedro {version('kedro')}, mlflow {version('mlflow')}, "
          f"uvicorn {version('uvicorn')}, pyspark {version('pyspark')}")  # fmt: skip
    print(f"{os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f} "
          "(the machine is shared: numbers are noisy); servers: uvicorn with MLflow's default "
          "workers (one per core); clients: threads with kept-alive connections")  # fmt: skip
    print(TARGET)
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as name:
        folder = Path(name)
        tracking_uri = f"sqlite:///{folder}/mlflow.db"
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
        root = create_project(folder / "project")
        train(root)
        project = open_project(root)
        experiment = mlflow.create_experiment("bench", artifact_location=f"{folder}/artifacts")
        mlflow.set_experiment(experiment_id=experiment)
        sample = project.customers(100, seed=3)
        model_uri, serving = benchmark_serving(project, folder, tracking_uri, sample)
        print(f"\nServed, {REQUESTS} requests per model and number of clients "
              f"(in {ROUNDS} interleaved rounds), one row each")  # fmt: skip
        print_serving_table(serving["measures"], serving["names"])
        print(TARGET)
        benchmark_spark(model_uri, project)
    print(f"\nWhole run: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
